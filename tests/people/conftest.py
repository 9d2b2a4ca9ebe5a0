# SPDX-License-Identifier: GPL-2.0-or-later
"""Fixtures for the people pages: a department tree, employees, signed-in personas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from server.auth.models import account_departments
from server.employees.models import Employee
from server.organization.models import Area, Department
from tests.conftest import csrf_token

PASSWORD = "correct horse battery"


@pytest.fixture
def org(db: Session) -> dict[str, Any]:
    """Plant > Assembly; Office apart; one area; an employee in Assembly and one in Office."""
    plant = Department(code="PLANT", name="Plant")
    office = Department(code="OFFICE", name="Office")
    db.add_all([plant, office])
    db.flush()
    assembly = Department(code="ASSY", name="Assembly", parent_id=plant.id)
    gate = Area(code="GATE", name="Main gate")
    db.add_all([assembly, gate])
    db.flush()
    ana = Employee(
        employee_code="E100", given_name="Ana", family_name="Lopez", department_id=assembly.id
    )
    bo = Employee(
        employee_code="E200", given_name="Bo", family_name="Chen", department_id=office.id
    )
    db.add_all([ana, bo])
    db.commit()
    return {
        "plant": plant,
        "office": office,
        "assembly": assembly,
        "gate": gate,
        "ana": ana,
        "bo": bo,
    }


@pytest.fixture
def sign_in(
    client: Any, login: Callable[..., Any], create_account: Callable[..., Any], db: Session
) -> Callable[..., Any]:
    """Sign in as a new account of ``role``, limited to ``departments`` when given."""

    def do(role: str = "admin", departments: tuple[Any, ...] = (), **extra: Any) -> Any:
        account = create_account(role=role, password=PASSWORD)
        for key, value in extra.items():
            setattr(account, key, value)
        if departments:
            db.execute(
                account_departments.insert(),
                [{"account_id": account.id, "department_id": d.id} for d in departments],
            )
        db.commit()
        assert login(account.username, PASSWORD).status_code == 302
        return account

    return do


@pytest.fixture
def post(client: Any) -> Callable[..., Any]:
    """POST a form with the CSRF token of a page the client can open."""

    def do(url: str, data: dict[str, Any] | None = None, *, page: str = "/", **kw: Any) -> Any:
        token = csrf_token(client.get(page).get_data(as_text=True))
        return client.post(url, data={**(data or {}), "csrf_token": token}, **kw)

    return do
