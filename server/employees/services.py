# SPDX-License-Identifier: GPL-2.0-or-later
"""Employees: change and terminate, with their terminals kept in step (issues #5, #6).

Every change a terminal shows (name, card, privilege, status) queues the matching command
for each terminal the employee belongs on, in the same transaction. Services flush and
audit; the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from biometrics.keys import KeyEncryptionKey
from server.audit.services import Actor, record_event
from server.devices import distribution
from server.employees.models import Employee, EmployeeStatus, VerifyMode, employee_areas
from server.errors import ConflictError, NotFoundError, ValidationError
from server.organization.models import Department

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
# How the pages name a field, for messages (the same words as the employee form's labels).
_LABELS = {
    "employee_code": _l("Employee code"),
    "given_name": _l("Given name"),
    "family_name": _l("Family name"),
    "device_name": _l("Name on terminals"),
    "email": _l("E-mail"),
    "phone": _l("Phone"),
    "locale": _l("Language of notices"),
    "card_number": _l("Card number"),
    "date_of_birth": _l("Date of birth"),
    "hire_date": _l("Hire date"),
}


def _label(key: str) -> str:
    return str(_LABELS.get(key, key))


def _required(key: str) -> ValidationError:
    return ValidationError(_("%(column)s is required.", column=_label(key)), details={"field": key})


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - EDITABLE)
    if unknown:
        raise ValidationError(
            _("Unknown field: %(field)s.", field=unknown[0]), details={"field": unknown[0]}
        )
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, str):
            value = value.strip()
            if key in _LIMITS and len(value) > _LIMITS[key]:
                raise ValidationError(
                    _(
                        "%(field)s is at most %(n)d characters.",
                        field=_label(key),
                        n=_LIMITS[key],
                    ),
                    details={"field": key},
                )
            if value == "" and key not in ("given_name", "family_name", "employee_code"):
                value = None
        out[key] = value
    for key in ("employee_code", "given_name", "family_name"):
        if key in out and not out[key]:
            raise _required(key)
    if out.get("card_number") is not None and not str(out["card_number"]).isdigit():
        raise ValidationError(_("A card number is digits only."), details={"field": "card_number"})
    if "device_privilege" in out and out["device_privilege"] not in (0, 14):
        raise ValidationError(
            _("Terminal privilege is 0 (user) or 14 (administrator)."),
            details={"field": "device_privilege"},
        )
    if "verify_mode" in out and out["verify_mode"] not in {m.value for m in VerifyMode}:
        raise ValidationError(_("Unknown verification mode."), details={"field": "verify_mode"})
    for key in ("date_of_birth", "hire_date"):
        if key in out and out[key] is not None and not isinstance(out[key], date):
            raise ValidationError(_("Dates are YYYY-MM-DD."), details={"field": key})
    return out


def validate_values(values: dict[str, Any]) -> dict[str, Any]:
    """The checked, trimmed form of ``values`` (what create and update would store)."""
    return _clean(values)


def get_employee(db: Session, employee_id: int) -> Employee:
    """The employee, or NotFoundError (an erased one is not found either)."""
    employee = db.get(Employee, employee_id)
    if employee is None or employee.erased_at is not None:
        raise NotFoundError(_("No such employee."))
    return employee


def _check_department(db: Session, values: dict[str, Any]) -> None:
    department_id = values.get("department_id")
    if department_id is not None and db.get(Department, department_id) is None:
        raise ValidationError(_("No such department."), details={"field": "department_id"})


def create_employee(
    db: Session,
    values: dict[str, Any],
    *,
    area_ids: Iterable[int] = (),
    actor: Actor,
) -> Employee:
    """Add an employee (active unless told otherwise); with areas, their terminals get them.

    ``values`` takes the fields of :data:`EDITABLE`; code, given and family names are required.
    """
    clean = _clean(values)
    for key in ("employee_code", "given_name", "family_name"):
        if not clean.get(key):
            raise _required(key)
    _check_department(db, clean)
    if db.scalar(select(Employee.id).where(Employee.employee_code == clean["employee_code"])):
        raise ConflictError(
            _("Another employee has this employee code."), details={"field": "employee_code"}
        )
    employee = Employee(
        status=EmployeeStatus.ACTIVE.value,
        verify_mode=clean.pop("verify_mode", None) or VerifyMode.CARD.value,
        device_privilege=clean.pop("device_privilege", None) or 0,
        **clean,
    )
    db.add(employee)
    db.flush()
    record_event(
        db,
        "employee.created",
        actor=actor,
        object_type="employee",
        object_id=employee.id,
        subject_employee_id=employee.id,
        details={"department_id": employee.department_id},
    )
    areas = sorted(set(area_ids))
    if areas:
        distribution.set_employee_areas(db, employee.id, areas, actor=actor)
    return employee


def update_employee(
    db: Session, employee_id: int, values: dict[str, Any], *, actor: Actor
) -> Employee:
    """Change fields; terminals that show a changed field get the new record."""
    employee = get_employee(db, employee_id)
    clean = _clean(values)
    _check_department(db, clean)
    code = clean.get("employee_code")
    if code and code != employee.employee_code:
        taken = db.scalar(
            select(Employee.id).where(Employee.employee_code == code, Employee.id != employee_id)
        )
        if taken:
            raise ConflictError(
                _("Another employee has this employee code."), details={"field": "employee_code"}
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
        raise ConflictError(_("The employee is terminated already."))
    if employee.hire_date is not None and on < employee.hire_date:
        raise ValidationError(
            _("The termination date is before the hire date."),
            details={"field": "termination_date"},
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
                _("A terminal password is 1 to %(n)d digits.", n=MAX_DEVICE_PASSWORD),
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


# --------------------------------------------------------------------------- the list
PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class EmployeePage:
    """One page of the list, ordered by employee code; cursors are codes (keyset paging)."""

    items: Sequence[Employee]
    next_after: str | None  # the next page starts after this code
    prev_before: str | None  # the previous page ends before this code


def _like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_employees(
    db: Session,
    *,
    query: str | None = None,
    department_ids: Iterable[int] | None = None,
    area_id: int | None = None,
    status: str | None = None,
    scope: frozenset[int] | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = PAGE_SIZE,
) -> EmployeePage:
    """Search and filter employees, one page at a time.

    ``query``: each word must start the employee code or appear in a name. ``department_ids``
    is the filter's department with those below it; ``scope`` is the viewer's department
    scope (None: unrestricted). Keyset paging on the unique employee code keeps every page
    one index range, however many employees there are.
    """
    conditions: list[Any] = [Employee.erased_at.is_(None)]
    if scope is not None:
        conditions.append(Employee.department_id.in_(sorted(scope)))
    if department_ids is not None:
        conditions.append(Employee.department_id.in_(sorted(department_ids)))
    if status:
        conditions.append(Employee.status == status)
    if area_id is not None:
        conditions.append(
            exists().where(
                employee_areas.c.employee_id == Employee.id, employee_areas.c.area_id == area_id
            )
        )
    for word in (query or "").split()[:5]:
        pattern = _like(word[:100])
        conditions.append(
            or_(
                Employee.employee_code.ilike(pattern + "%", escape="\\"),
                Employee.given_name.ilike("%" + pattern + "%", escape="\\"),
                Employee.family_name.ilike("%" + pattern + "%", escape="\\"),
            )
        )
    base = select(Employee).where(and_(*conditions))
    if before is not None and after is None:
        rows = list(
            db.scalars(
                base.where(Employee.employee_code < before)
                .order_by(Employee.employee_code.desc())
                .limit(limit + 1)
            )
        )
        more_before = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        return EmployeePage(
            items=rows,
            next_after=rows[-1].employee_code if rows else None,
            prev_before=rows[0].employee_code if rows and more_before else None,
        )
    stmt = base
    if after is not None:
        stmt = stmt.where(Employee.employee_code > after)
    rows = list(db.scalars(stmt.order_by(Employee.employee_code).limit(limit + 1)))
    more_after = len(rows) > limit
    rows = rows[:limit]
    return EmployeePage(
        items=rows,
        next_after=rows[-1].employee_code if rows and more_after else None,
        prev_before=rows[0].employee_code if rows and after is not None else None,
    )


# --------------------------------------------------------------------------- the detail page
def recent_punches(db: Session, employee_id: int, *, limit: int = 20) -> list[Any]:
    """The employee's latest punches, newest first (one range of their index)."""
    from server.attendance.models import Punch

    return list(
        db.scalars(
            select(Punch)
            .where(Punch.employee_id == employee_id)
            .order_by(Punch.occurred_at.desc(), Punch.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True, slots=True)
class TerminalPlacement:
    """A terminal the employee belongs on, and how far their record got there."""

    terminal_id: int
    name: str
    serial_number: str
    state: str | None  # the latest put/delete for them there: pending, done, failed; None


def terminal_placements(db: Session, employee: Employee) -> list[TerminalPlacement]:
    """The managed terminals that hold (or are being sent) the employee and their templates."""
    from server.devices.models import CommandKind, TerminalCommand

    terminals = distribution.terminals_for(db, employee)
    if not terminals:
        return []
    latest: dict[int, str] = {}
    rows = db.execute(
        select(TerminalCommand.terminal_id, TerminalCommand.state)
        .where(
            TerminalCommand.employee_id == employee.id,
            TerminalCommand.kind.in_([CommandKind.PUT_USER.value, CommandKind.DELETE_USER.value]),
            TerminalCommand.state != "superseded",
        )
        .order_by(TerminalCommand.id)
    )
    for terminal_id, state in rows:
        latest[terminal_id] = state
    return [
        TerminalPlacement(t.id, t.name, t.serial_number, latest.get(t.id))
        for t in sorted(terminals, key=lambda t: t.name)
    ]


def record_view(db: Session, employee: Employee, *, actor: Actor) -> None:
    """Every opening of an employee's detail page is in the operation log (issue #6)."""
    record_event(
        db,
        "employee.viewed",
        actor=actor,
        object_type="employee",
        object_id=employee.id,
        subject_employee_id=employee.id,
    )
