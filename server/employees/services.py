# SPDX-License-Identifier: GPL-2.0-or-later
"""Employees: change and terminate, with their terminals kept in step (issues #5, #6).

Every change a terminal shows (name, card, privilege, status) queues the matching command
for each terminal the employee belongs on, in the same transaction. Services flush and
audit; the caller commits.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from biometrics.keys import KeyEncryptionKey
from server.audit.services import Actor, record_event
from server.devices import distribution
from server.employees.models import Employee, EmployeeStatus, VerifyMode
from server.errors import ConflictError, NotFoundError, ValidationError

# What a terminal shows or checks: a change to one of these is written to the terminals.
TERMINAL_FIELDS = frozenset({"given_name", "family_name", "device_name", "card_number"})
EDITABLE = frozenset(
    {
        "employee_code",
        "given_name",
        "family_name",
        "device_name",
        "date_of_birth",
        "email",
        "phone",
        "locale",
        "department_id",
        "hire_date",
        "verify_mode",
        "card_number",
        "device_privilege",
    }
)
_LIMITS = {
    "employee_code": 32,
    "given_name": 100,
    "family_name": 100,
    "device_name": 24,
    "email": 254,
    "phone": 40,
    "locale": 16,
    "card_number": 20,
}


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - EDITABLE)
    if unknown:
        raise ValidationError(f"Unknown field: {unknown[0]}.", details={"field": unknown[0]})
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, str):
            value = value.strip()
            if key in _LIMITS and len(value) > _LIMITS[key]:
                raise ValidationError(
                    f"{key.replace('_', ' ').capitalize()} is at most {_LIMITS[key]} characters.",
                    details={"field": key},
                )
            if value == "" and key not in ("given_name", "family_name", "employee_code"):
                value = None
        out[key] = value
    for key in ("employee_code", "given_name", "family_name"):
        if key in out and not out[key]:
            raise ValidationError(
                f"{key.replace('_', ' ').capitalize()} is required.", details={"field": key}
            )
    if out.get("card_number") is not None and not str(out["card_number"]).isdigit():
        raise ValidationError("A card number is digits only.", details={"field": "card_number"})
    if "device_privilege" in out and out["device_privilege"] not in (0, 14):
        raise ValidationError(
            "Terminal privilege is 0 (user) or 14 (administrator).",
            details={"field": "device_privilege"},
        )
    if "verify_mode" in out and out["verify_mode"] not in {m.value for m in VerifyMode}:
        raise ValidationError("Unknown verification mode.", details={"field": "verify_mode"})
    for key in ("date_of_birth", "hire_date"):
        if key in out and out[key] is not None and not isinstance(out[key], date):
            raise ValidationError("Dates are YYYY-MM-DD.", details={"field": key})
    return out


def get_employee(db: Session, employee_id: int) -> Employee:
    """The employee, or NotFoundError (an erased one is not found either)."""
    employee = db.get(Employee, employee_id)
    if employee is None or employee.erased_at is not None:
        raise NotFoundError("No such employee.")
    return employee


def update_employee(
    db: Session, employee_id: int, values: dict[str, Any], *, actor: Actor
) -> Employee:
    """Change fields; terminals that show a changed field get the new record."""
    employee = get_employee(db, employee_id)
    clean = _clean(values)
    code = clean.get("employee_code")
    if code and code != employee.employee_code:
        taken = db.scalar(
            select(Employee.id).where(Employee.employee_code == code, Employee.id != employee_id)
        )
        if taken:
            raise ConflictError(
                "Another employee has this employee code.", details={"field": "employee_code"}
            )
    changed = sorted(k for k, v in clean.items() if getattr(employee, k) != v)
    for key in changed:
        setattr(employee, key, clean[key])
    db.flush()
    if not changed:
        return employee
    record_event(
        db,
        "employee.updated",
        actor=actor,
        object_type="employee",
        object_id=employee.id,
        subject_employee_id=employee.id,
        details={"fields": ",".join(changed)},  # names of fields, never their values
    )
    if TERMINAL_FIELDS.intersection(changed) or "device_privilege" in changed:
        distribution.put_everywhere(db, employee, cause="employee_changed")
    return employee


def terminate_employee(db: Session, employee_id: int, *, on: date, actor: Actor) -> Employee:
    """End the employment: the person is removed from every terminal; punches are kept."""
    employee = get_employee(db, employee_id)
    if employee.status == EmployeeStatus.TERMINATED:
        raise ConflictError("The employee is terminated already.")
    if employee.hire_date is not None and on < employee.hire_date:
        raise ValidationError(
            "The termination date is before the hire date.", details={"field": "termination_date"}
        )
    employee.status = EmployeeStatus.TERMINATED.value
    employee.termination_date = on
    db.flush()
    record_event(
        db,
        "employee.terminated",
        actor=actor,
        object_type="employee",
        object_id=employee.id,
        subject_employee_id=employee.id,
        details={"on": on.isoformat()},
    )
    distribution.remove_everywhere(db, employee, cause="terminated")
    return employee


MAX_DEVICE_PASSWORD = 8  # digits; black-and-white models hold 5


def set_device_password(
    db: Session,
    employee_id: int,
    password: str | None,
    *,
    kek: KeyEncryptionKey,
    actor: Actor,
) -> None:
    """Set (or with None clear) the password the employee types at terminals; it is sealed
    with the instance key, written to their terminals, and never shown back or logged."""
    from server.sealing import DEVICE_PASSWORD_PURPOSE, device_password_owner, seal_secret

    employee = get_employee(db, employee_id)
    if password is not None:
        password = password.strip()
        if not password.isdigit() or not 0 < len(password) <= MAX_DEVICE_PASSWORD:
            raise ValidationError(
                f"A terminal password is 1 to {MAX_DEVICE_PASSWORD} digits.",
                details={"field": "device_password"},
            )
    employee.device_password_sealed = (
        None
        if password is None
        else seal_secret(
            kek,
            password,
            purpose=DEVICE_PASSWORD_PURPOSE,
            owner=device_password_owner(employee.id),
        )
    )
    db.flush()
    record_event(
        db,
        "employee.device_password_set" if password else "employee.device_password_cleared",
        actor=actor,
        object_type="employee",
        object_id=employee.id,
        subject_employee_id=employee.id,
    )
    distribution.put_everywhere(db, employee, cause="employee_changed")
