# SPDX-License-Identifier: GPL-2.0-or-later
"""An export leaves the database free (#6 review).

On SQLite every transaction takes the write lock at BEGIN, so an export that kept its
session open once its last rows were read would stop the worker and every page from
writing. This runs the real app over a database file of its own, as served.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text, update

from server import migrate
from server.app import create_app
from server.attendance.models import Punch
from server.audit.services import Actor
from server.auth.services import create_account
from server.db import make_engine, make_sessionmaker, utcnow
from server.employees.models import Employee
from server.settings import Settings
from tests.conftest import csrf_token, is_postgres

PASSWORD = "correct horse battery"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_after_an_export_another_writer_gets_the_database_at_once(
    fresh_database: Callable[[], str], settings: Settings, fmt: str
) -> None:
    url = fresh_database()
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions() as db:
            create_account(
                db, actor=Actor.system("test"), username="hr", password=PASSWORD, role="hr_viewer"
            )
            ana = Employee(employee_code="1001", given_name="Ana", family_name="Lima")
            db.add(ana)
            db.flush()
            start = utcnow() - timedelta(days=1)
            for i in range(30):
                at = start + timedelta(minutes=i)
                db.add(
                    Punch(
                        terminal_serial="T1",
                        pin="1001",
                        employee_id=ana.id,
                        device_time=at.replace(tzinfo=None),
                        occurred_at=at,
                        timezone="UTC",
                        punch_state=i % 2,
                    )
                )
            db.commit()
        app = create_app(settings, sessions=sessions)
        app.config["TESTING"] = True
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        client.post(
            "/login", data={"username": "hr", "password": PASSWORD, "csrf_token": csrf_token(page)}
        )
        token = csrf_token(client.get("/punches").get_data(as_text=True))
        response: Any = client.post("/punches/export", data={"format": fmt, "csrf_token": token})
        assert response.status_code == 200
        assert len(response.get_data()) > 0  # the whole file, read as a browser would
        response.close()

        # A writer (the worker, another page) gets the lock without waiting.
        with engine.connect() as conn:
            if not is_postgres(url):
                conn.exec_driver_sql("PRAGMA busy_timeout = 300")
            conn.execute(update(Employee).values(family_name="Lima-Sousa"))
            conn.commit()
            assert conn.execute(text("SELECT family_name FROM employees")).scalar() == "Lima-Sousa"
    finally:
        engine.dispose()
