# SPDX-License-Identifier: GPL-2.0-or-later
"""Fixtures for the terminal, punch and dashboard pages (issue #6)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.attendance.models import Punch
from server.audit.models import AuditEvent
from server.auth.models import account_departments
from server.employees.models import Employee
from server.organization.models import Department
from tests.conftest import csrf_token

PASSWORD = "correct horse battery"
ZONE = "Europe/Berlin"  # the settings fixture's time zone


@pytest.fixture
def sign_in(
    db: Session, client: Any, create_account: Callable[..., Any], login: Callable[..., Any]
) -> Callable[..., Any]:
    """Sign a new account of ``role`` in (limited to ``departments`` when given)."""

    def do(role: str = "admin", *, departments: tuple[int, ...] = (), **kwargs: Any) -> Any:
        flags = {k: kwargs.pop(k) for k in ("biometric_permission",) if k in kwargs}
        account = create_account(role=role, password=PASSWORD, **kwargs)
        for key, value in flags.items():
            setattr(account, key, value)
        db.commit()
        if departments:
            db.execute(
                account_departments.insert(),
                [{"account_id": account.id, "department_id": d} for d in departments],
            )
            db.commit()
        response = login(account.username, PASSWORD)
        assert response.status_code == 302, response.get_data(as_text=True)
        return account

    return do


def page_token(client: Any, url: str) -> str:
    return csrf_token(client.get(url).get_data(as_text=True))


def audit_count(db: Session, action: str) -> int:
    return (
        db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))
        or 0
    )


def last_audit(db: Session, action: str) -> AuditEvent:
    event = db.scalar(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq.desc())
    )
    assert event is not None, f"no {action} in the operation log"
    return event


@dataclass
class World:
    departments: dict[str, int]
    employees: dict[str, Employee]
    serial: str


def add_punch(
    db: Session,
    employee: Employee | None,
    at: datetime,
    *,
    serial: str = "SIM0001",
    pin: str | None = None,
    state: int = 0,
    source: str = "pull",
    status: str = "ok",
    reason: str | None = None,
) -> Punch:
    zone = ZoneInfo(ZONE)
    punch = Punch(
        terminal_serial=serial,
        pin=pin or (employee.employee_code if employee else "999"),
        employee_id=employee.id if employee else None,
        device_time=at.astimezone(zone).replace(tzinfo=None),
        occurred_at=at,
        timezone=ZONE,
        verify_type=1,
        punch_state=state,
        work_code=0,
        source=source,
        status=status,
        quarantine_reason=reason,
        received_at=at,
    )
    db.add(punch)
    return punch


@pytest.fixture
def world(db: Session) -> World:
    """Two departments (Plant > Assembly; Office), four people, punches over three days."""
    plant = Department(code="PLANT", name="Plant")
    office = Department(code="OFFICE", name="Office")
    db.add_all([plant, office])
    db.flush()
    assembly = Department(code="ASSY", name="Assembly", parent_id=plant.id)
    db.add(assembly)
    db.flush()
    people = {
        "ana": Employee(
            employee_code="1001", given_name="Ana", family_name="Lima", department_id=assembly.id
        ),
        "bo": Employee(
            employee_code="1002", given_name="Bo", family_name="Chen", department_id=office.id
        ),
        "cy": Employee(
            employee_code="1003", given_name="Cy", family_name="Roe", department_id=None
        ),
        "dee": Employee(
            employee_code="1004",
            given_name="Dee",
            family_name="Hidden",
            department_id=assembly.id,
            restricted_at=datetime.now(UTC) - timedelta(days=1),
        ),
    }
    db.add_all(people.values())
    db.flush()
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    for day in range(3):
        for n, person in enumerate(people.values()):
            at = base + timedelta(days=day, minutes=n)
            add_punch(db, person, at, state=0)
            add_punch(db, person, at + timedelta(hours=8), state=1)
    add_punch(db, None, base + timedelta(hours=1), pin="777")
    add_punch(
        db,
        people["ana"],
        datetime(2000, 1, 1, tzinfo=UTC),
        status="quarantined",
        reason="terminal clock reset (year 2000 default)",
    )
    db.commit()
    return World(
        departments={"plant": plant.id, "office": office.id, "assembly": assembly.id},
        employees=people,
        serial="SIM0001",
    )


_ROW = re.compile(r'<tr id="p(\d+)"')


def punch_ids(page: str) -> list[int]:
    """The punch ids listed on a browser page, in order."""
    return [int(m) for m in _ROW.findall(page)]
