# SPDX-License-Identifier: GPL-2.0-or-later
"""Employees (issue #6): search and detail, within the caller's department scope, over the
services the pages use. Every detail read is in the operation log, as on the page. Never a
device password or a template."""

from __future__ import annotations

from typing import Any

from server.api.blueprint import api
from server.api.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from server.api.registry import Param, ref
from server.api.schemas import iso
from server.employees import services
from server.employees.models import Employee, EmployeeStatus
from server.web import (
    ANY_ROLE,
    current_actor,
    department_scope,
    get_session,
    require_department_scope,
)

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
    ),
    response=ref("Employee"),
    paginated=True,
)
def list_employees(query: dict[str, Any]) -> Any:
    """Ordered by employee code; only the caller's departments for a scoped HR account."""
    after = None
    if query.get("cursor"):
        code, _id = decode_cursor(_ORDER, query["cursor"])
        after = str(code)
    limit = min(int(query["limit"]), MAX_LIMIT)
    page = services.list_employees(
        get_session(),
        query=query.get("q"),
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


@api.route(
    "/employees/<int:employee_id>",
    summary="One employee's profile (the read is logged)",
    tag="employees",
    roles=ANY_ROLE,
    response=ref("Employee"),
)
def get_employee(employee_id: int) -> Any:
    db = get_session()
    employee = services.get_employee(db, employee_id)
    require_department_scope(employee.department_id)
    services.record_view(db, employee, actor=current_actor())
    db.commit()
    return employee_json(employee)
