# SPDX-License-Identifier: GPL-2.0-or-later
"""Employees (issue #6): search, detail, create, edit and terminate, within the caller's
department scope, over the services the pages use. Every detail read is in the operation
log, as on the page. Never a device password or a template."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from server.api.blueprint import api
from server.api.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from server.api.registry import Param, ref
from server.api.schemas import day, iso
from server.auth.models import Role
from server.auth.scope import department_with_descendants
from server.employees import services
from server.employees.models import Employee, EmployeeStatus, VerifyMode, employee_areas
from server.errors import ValidationError
from server.i18n import LANGUAGES
from server.web import (
    ANY_ROLE,
    current_actor,
    department_scope,
    get_session,
    require_department_scope,
)

EDITORS = (Role.HR_MANAGER,)  # as the pages: administrators always pass
_ORDER = "employee_code"


def employee_json(e: Employee) -> dict[str, Any]:
    return {
        "id": e.id,
        "employee_code": e.employee_code,
        "given_name": e.given_name,
        "family_name": e.family_name,
        "device_name": e.device_name,
        "department_id": e.department_id,
        "status": e.status,
        "hire_date": e.hire_date.isoformat() if e.hire_date else None,
        "termination_date": e.termination_date.isoformat() if e.termination_date else None,
        "restricted": e.restricted_at is not None,
        "created_at": iso(e.created_at),
    }


@api.route(
    "/employees",
    summary="Search employees",
    tag="employees",
    roles=ANY_ROLE,
    query=(
        Param(
            "q",
            {"type": "string", "maxLength": 200},
            "Words that start the code or appear in a name.",
        ),
        Param("status", {"type": "string", "enum": [s.value for s in EmployeeStatus]}),
        Param(
            "department_id",
            {"type": "integer", "minimum": 1},
            "This department and those below it.",
        ),
        Param("area_id", {"type": "integer", "minimum": 1}, "Placed in this area."),
    ),
    response=ref("Employee"),
    paginated=True,
)
def list_employees(query: dict[str, Any]) -> Any:
    """Ordered by employee code; only the caller's departments for a scoped HR account."""
    db = get_session()
    after = None
    if query.get("cursor"):
        code, _id = decode_cursor(_ORDER, query["cursor"])
        after = str(code)
    limit = min(int(query["limit"]), MAX_LIMIT)
    department_id = query.get("department_id")
    page = services.list_employees(
        db,
        query=query.get("q"),
        department_ids=department_with_descendants(db, [department_id])
        if department_id is not None
        else None,
        area_id=query.get("area_id"),
        status=query.get("status"),
        scope=department_scope(),
        after=after,
        limit=limit,
    )
    last = page.items[-1] if page.items else None
    return {
        "items": [employee_json(e) for e in page.items],
        "next_cursor": encode_cursor(_ORDER, last.employee_code, last.id)
        if last is not None and page.next_after is not None
        else None,
    }


def employee_detail_json(e: Employee) -> dict[str, Any]:
    areas: list[int] = list(
        get_session().scalars(
            select(employee_areas.c.area_id)
            .where(employee_areas.c.employee_id == e.id)
            .order_by(employee_areas.c.area_id)
        )
    )
    return {
        **employee_json(e),
        "date_of_birth": e.date_of_birth.isoformat() if e.date_of_birth else None,
        "email": e.email,
        "phone": e.phone,
        "locale": e.locale,
        "verify_mode": e.verify_mode,
        "card_number": e.card_number,
        "device_privilege": e.device_privilege,
        "area_ids": areas,
    }


def _scoped_employee(employee_id: int) -> Employee:
    employee = services.get_employee(get_session(), employee_id)
    require_department_scope(employee.department_id)
    return employee


@api.route(
    "/employees/<int:employee_id>",
    summary="One employee's profile (the read is logged)",
    tag="employees",
    roles=ANY_ROLE,
    response=ref("EmployeeDetail"),
)
def get_employee(employee_id: int) -> Any:
    db = get_session()
    employee = _scoped_employee(employee_id)
    services.record_view(db, employee, actor=current_actor())
    db.commit()
    return employee_detail_json(employee)


# --------------------------------------------------------------------------- changes
_NAME = {"type": "string", "minLength": 1, "maxLength": 100}
_DATE = {"type": ["string", "null"], "format": "date", "description": "YYYY-MM-DD."}
# What the employee form edits, with the form's own limits (server/employees/forms.py).
_FIELDS: dict[str, Any] = {
    "employee_code": {"type": "string", "minLength": 1, "maxLength": 32, "pattern": r"^\S+$"},
    "given_name": _NAME,
    "family_name": _NAME,
    "device_name": {
        "type": ["string", "null"],
        "maxLength": 24,
        "description": "The short name terminals show; 8 characters on black-and-white models.",
    },
    "department_id": {
        "type": ["integer", "null"],
        "minimum": 1,
        "description": "A scoped account places people only in its departments.",
    },
    "hire_date": _DATE,
    "date_of_birth": _DATE,
    "email": {
        "type": ["string", "null"],
        "maxLength": 254,
        "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    },
    "phone": {"type": ["string", "null"], "maxLength": 40},
    "locale": {
        "enum": [*LANGUAGES, None],
        "description": "Language of notices; null: the organization's default.",
    },
    "verify_mode": {"type": "string", "enum": [m.value for m in VerifyMode]},
    "card_number": {"type": ["string", "null"], "maxLength": 20, "pattern": r"^\d+$"},
    "device_privilege": {
        "type": "integer",
        "enum": [0, 14],
        "description": "0: user; 14: terminal administrator.",
    },
}


def _values(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The service's values from a checked body; the department within the caller's scope
    (the form offers a scoped account only its own departments, and no blank)."""
    values = dict(body)
    for key in ("hire_date", "date_of_birth"):
        if values.get(key) is not None:
            values[key] = day(values[key], key)
    scope = department_scope()
    if scope is not None and (creating or "department_id" in values):
        department_id = values.get("department_id")
        if department_id is None:
            raise ValidationError(
                _("A department is required (your scope is limited)."),
                details={"field": "department_id"},
            )
        if department_id not in scope:
            raise ValidationError(_("No such department."), details={"field": "department_id"})
    return values


@api.route(
    "/employees",
    "POST",
    summary="Add an employee",
    tag="employees",
    roles=EDITORS,
    body={
        "type": "object",
        "required": ["employee_code", "given_name", "family_name"],
        "properties": _FIELDS,
        "additionalProperties": False,
    },
    response=ref("EmployeeDetail"),
    status=201,
    errors=(409,),
)
def create_employee(body: dict[str, Any]) -> Any:
    """Active from now on; 409 when another employee has the code. Areas (and with them
    terminals) are set on the employee's page."""
    db = get_session()
    employee = services.create_employee(db, _values(body, creating=True), actor=current_actor())
    db.commit()
    return employee_detail_json(employee), 201


@api.route(
    "/employees/<int:employee_id>",
    "PATCH",
    summary="Change an employee's profile",
    tag="employees",
    roles=EDITORS,
    body={
        "type": "object",
        "minProperties": 1,
        "properties": _FIELDS,
        "additionalProperties": False,
    },
    response=ref("EmployeeDetail"),
    errors=(409,),
)
def update_employee(employee_id: int, body: dict[str, Any]) -> Any:
    """Only the fields given change (null clears an optional one). Terminals that show a
    changed name, card or privilege get the new record."""
    db = get_session()
    employee = _scoped_employee(employee_id)
    services.update_employee(db, employee.id, _values(body, creating=False), actor=current_actor())
    db.commit()
    return employee_detail_json(employee)


@api.route(
    "/employees/<int:employee_id>/terminate",
    "POST",
    summary="End an employee's employment",
    tag="employees",
    roles=EDITORS,
    body={
        "type": "object",
        "required": ["termination_date"],
        "properties": {
            "termination_date": {
                "type": "string",
                "format": "date",
                "description": "The last day of employment, YYYY-MM-DD.",
            }
        },
        "additionalProperties": False,
    },
    response=ref("EmployeeDetail"),
    errors=(409,),
)
def terminate_employee(employee_id: int, body: dict[str, Any]) -> Any:
    """The employee is removed from every terminal; their punches are kept. 409 when the
    employment has ended already."""
    db = get_session()
    employee = _scoped_employee(employee_id)
    services.terminate_employee(
        db,
        employee.id,
        on=day(body["termination_date"], "termination_date"),
        actor=current_actor(),
    )
    db.commit()
    return employee_detail_json(employee)
