# SPDX-License-Identifier: GPL-2.0-or-later
"""Department scope of HR accounts and the biometric permission (issue #6)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import g
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.models import account_departments
from server.employees.models import Employee
from server.errors import NotFoundError, PermissionDeniedError
from server.organization.models import Department
from server.web import (
    department_scope,
    department_scope_clause,
    get_session,
    has_biometric_permission,
    in_department_scope,
    require_biometric_permission,
    require_department_scope,
)


@pytest.fixture
def tree(db: Session) -> dict[str, int]:
    """Plant > (Assembly > Line 1), Plant > Paint; Office apart."""
    plant = Department(code="PLANT", name="Plant")
    office = Department(code="OFFICE", name="Office")
    db.add_all([plant, office])
    db.flush()
    assembly = Department(code="ASSY", name="Assembly", parent_id=plant.id)
    paint = Department(code="PAINT", name="Paint", parent_id=plant.id)
    db.add_all([assembly, paint])
    db.flush()
    line1 = Department(code="LINE1", name="Line 1", parent_id=assembly.id)
    db.add(line1)
    db.commit()
    return {
        "plant": plant.id,
        "office": office.id,
        "assembly": assembly.id,
        "paint": paint.id,
        "line1": line1.id,
    }


def _limit(db: Session, account: Any, *department_ids: int) -> None:
    db.execute(
        account_departments.insert(),
        [{"account_id": account.id, "department_id": d} for d in department_ids],
    )
    db.commit()


def _as(app: Any, account: Any) -> Any:
    ctx = app.test_request_context("/")
    ctx.push()
    g.account = get_session().get(type(account), account.id)
    return ctx


def test_an_hr_manager_without_departments_sees_everyone(
    app: Any, create_account: Callable[..., Any], tree: dict[str, int]
) -> None:
    account = create_account(role="hr_manager")
    ctx = _as(app, account)
    try:
        assert department_scope() is None
        assert in_department_scope(None)
        assert in_department_scope(tree["office"])
    finally:
        ctx.pop()


def test_a_scoped_hr_manager_sees_their_departments_and_those_below(
    app: Any, db: Session, create_account: Callable[..., Any], tree: dict[str, int]
) -> None:
    account = create_account(role="hr_manager")
    _limit(db, account, tree["assembly"])
    ctx = _as(app, account)
    try:
        assert department_scope() == frozenset({tree["assembly"], tree["line1"]})
        assert in_department_scope(tree["line1"])
        assert not in_department_scope(tree["paint"])  # a sibling, not below
        assert not in_department_scope(tree["plant"])  # above is not included
        assert not in_department_scope(None)  # people without a department: unrestricted only
        with pytest.raises(NotFoundError):
            require_department_scope(tree["office"])
    finally:
        ctx.pop()


def test_the_scope_clause_filters_a_query(
    app: Any, db: Session, create_account: Callable[..., Any], tree: dict[str, int]
) -> None:
    for code, dept in (("E1", tree["line1"]), ("E2", tree["office"]), ("E3", None)):
        db.add(Employee(employee_code=code, given_name="A", family_name="B", department_id=dept))
    db.commit()
    viewer = create_account(role="hr_viewer")
    _limit(db, viewer, tree["plant"])
    ctx = _as(app, viewer)
    try:
        codes = get_session().scalars(
            select(Employee.employee_code)
            .where(department_scope_clause(Employee.department_id))
            .order_by(Employee.employee_code)
        )
        assert list(codes) == ["E1"]
    finally:
        ctx.pop()


@pytest.mark.parametrize("role", ["admin", "privacy_officer", "auditor"])
def test_department_rows_do_not_limit_other_roles(
    app: Any, db: Session, create_account: Callable[..., Any], tree: dict[str, int], role: str
) -> None:
    account = create_account(role=role)
    _limit(db, account, tree["office"])
    ctx = _as(app, account)
    try:
        assert department_scope() is None
    finally:
        ctx.pop()


@pytest.mark.parametrize(
    ("role", "flag", "allowed"),
    [
        ("admin", False, True),
        ("hr_manager", False, False),
        ("hr_manager", True, True),
        ("hr_viewer", True, False),
        ("privacy_officer", True, False),
        ("auditor", True, False),
    ],
)
def test_biometric_actions_need_the_permission(
    app: Any,
    db: Session,
    create_account: Callable[..., Any],
    role: str,
    flag: bool,
    allowed: bool,
) -> None:
    account = create_account(role=role)
    account.biometric_permission = flag
    db.commit()
    ctx = _as(app, account)
    try:
        assert has_biometric_permission() is allowed
        if allowed:
            require_biometric_permission()
        else:
            with pytest.raises(PermissionDeniedError):
                require_biometric_permission()
    finally:
        ctx.pop()
