# SPDX-License-Identifier: GPL-2.0-or-later
"""Departments and areas: the two trees people are placed in (issue #6).

Departments say who may see whom (HR scope, reports); areas say which terminals a person
is written to. Services flush and audit; the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.audit.services import Actor, record_event
from server.auth.models import account_departments
from server.devices import distribution
from server.devices.models import CommandKind, Terminal
from server.employees.models import Employee, employee_areas
from server.errors import ConflictError, NotFoundError, ValidationError
from server.organization.models import Area, Department

MAX_CODE = 32
MAX_NAME = 200

T = TypeVar("T", Department, Area)


@dataclass
class TreeNode(Generic[T]):
    item: T
    depth: int
    children: list[TreeNode[T]] = field(default_factory=list)


def build_tree(rows: Iterable[T]) -> list[TreeNode[T]]:
    """Roots sorted by name, each with its children; a row whose parent is missing is a root."""
    items = sorted(rows, key=lambda r: (r.name.casefold(), r.code))
    by_id = {r.id: TreeNode(r, 0) for r in items}
    roots: list[TreeNode[T]] = []
    for row in items:
        node = by_id[row.id]
        parent = by_id.get(row.parent_id) if row.parent_id is not None else None
        (parent.children if parent else roots).append(node)

    def set_depth(nodes: list[TreeNode[T]], depth: int) -> None:
        for n in nodes:
            n.depth = depth
            set_depth(n.children, depth + 1)

    set_depth(roots, 0)
    return roots


def flatten(roots: list[TreeNode[T]]) -> list[TreeNode[T]]:
    """Depth-first, for selects that indent by depth."""
    out: list[TreeNode[T]] = []

    def walk(nodes: list[TreeNode[T]]) -> None:
        for n in nodes:
            out.append(n)
            walk(n.children)

    walk(roots)
    return out


def _code_and_name(code: str, name: str) -> tuple[str, str]:
    code, name = code.strip(), name.strip()
    if not 0 < len(code) <= MAX_CODE:
        raise ValidationError(
            _("A code has 1 to %(n)d characters.", n=MAX_CODE), details={"field": "code"}
        )
    if not 0 < len(name) <= MAX_NAME:
        raise ValidationError(
            _("A name has 1 to %(n)d characters.", n=MAX_NAME), details={"field": "name"}
        )
    return code, name


def _parents(db: Session, model: type[T]) -> dict[int, int | None]:
    return {int(i): p for i, p in db.execute(select(model.id, model.parent_id))}


def _would_cycle(db: Session, model: type[T], item_id: int, new_parent: int | None) -> bool:
    parents = _parents(db, model)
    current = new_parent
    seen: set[int] = set()
    while current is not None and current not in seen:
        if current == item_id:
            return True
        seen.add(current)
        current = parents.get(current)
    return False


# --------------------------------------------------------------------------- departments
def list_departments(db: Session) -> list[Department]:
    return list(db.scalars(select(Department).order_by(Department.name, Department.code)))


def get_department(db: Session, department_id: int) -> Department:
    department = db.get(Department, department_id)
    if department is None:
        raise NotFoundError(_("No such department."))
    return department


def _department_parent(db: Session, parent_id: int | None) -> int | None:
    if parent_id is None:
        return None
    if db.get(Department, parent_id) is None:
        raise ValidationError(_("No such parent department."), details={"field": "parent_id"})
    return parent_id


def create_department(
    db: Session, *, code: str, name: str, parent_id: int | None, actor: Actor
) -> Department:
    clean_code, clean_name = _code_and_name(code, name)
    if db.scalar(select(Department.id).where(Department.code == clean_code)):
        raise ConflictError(
            _("A department with this code exists already."), details={"field": "code"}
        )
    department = Department(
        code=clean_code, name=clean_name, parent_id=_department_parent(db, parent_id)
    )
    db.add(department)
    db.flush()
    record_event(
        db,
        "department.created",
        actor=actor,
        object_type="department",
        object_id=department.id,
        details={"parent_id": department.parent_id},
    )
    return department


def update_department(
    db: Session,
    department_id: int,
    *,
    code: str,
    name: str,
    parent_id: int | None,
    actor: Actor,
) -> Department:
    """Rename and/or move a department (never under itself or one of its own)."""
    department = get_department(db, department_id)
    clean_code, clean_name = _code_and_name(code, name)
    if clean_code != department.code and db.scalar(
        select(Department.id).where(Department.code == clean_code)
    ):
        raise ConflictError(
            _("A department with this code exists already."), details={"field": "code"}
        )
    parent_id = _department_parent(db, parent_id)
    if parent_id is not None and _would_cycle(db, Department, department.id, parent_id):
        raise ValidationError(
            _("A department cannot be moved under itself or a department below it."),
            details={"field": "parent_id"},
        )
    changed = [
        key
        for key, value in (("code", clean_code), ("name", clean_name), ("parent_id", parent_id))
        if getattr(department, key) != value
    ]
    if not changed:
        return department
    department.code = clean_code
    department.name = clean_name
    department.parent_id = parent_id
    db.flush()
    record_event(
        db,
        "department.moved" if "parent_id" in changed else "department.updated",
        actor=actor,
        object_type="department",
        object_id=department.id,
        details={"fields": ",".join(changed), "parent_id": department.parent_id},
    )
    return department


@dataclass(frozen=True, slots=True)
class DepartmentUse:
    employees: int
    children: int
    accounts: int

    @property
    def empty(self) -> bool:
        return not (self.employees or self.children or self.accounts)


def department_use(db: Session, department_id: int) -> DepartmentUse:
    return DepartmentUse(
        employees=db.scalar(select(func.count()).where(Employee.department_id == department_id))
        or 0,
        children=db.scalar(select(func.count()).where(Department.parent_id == department_id)) or 0,
        accounts=db.scalar(
            select(func.count()).where(account_departments.c.department_id == department_id)
        )
        or 0,
    )


def employee_counts(db: Session) -> dict[int, int]:
    """Employees (not erased) per department, for the tree page."""
    rows = db.execute(
        select(Employee.department_id, func.count())
        .where(Employee.department_id.is_not(None), Employee.erased_at.is_(None))
        .group_by(Employee.department_id)
    )
    return {int(d): int(n) for d, n in rows if d is not None}


def delete_department(db: Session, department_id: int, *, actor: Actor) -> None:
    """Delete an empty department: no people (erased ones included, whose rows anchor
    kept punches), no departments below it, and in no account's scope."""
    department = get_department(db, department_id)
    use = department_use(db, department_id)
    if use.children:
        raise ConflictError(_("Move or delete the departments below this one first."))
    if use.employees:
        raise ConflictError(_("Move this department's employees to another department first."))
    if use.accounts:
        raise ConflictError(_("Accounts are limited to this department: change their scope first."))
    db.delete(department)
    db.flush()
    record_event(
        db, "department.deleted", actor=actor, object_type="department", object_id=department_id
    )


# --------------------------------------------------------------------------- areas
def list_areas(db: Session) -> list[Area]:
    return list(db.scalars(select(Area).order_by(Area.name, Area.code)))


def get_area(db: Session, area_id: int) -> Area:
    area = db.get(Area, area_id)
    if area is None:
        raise NotFoundError(_("No such area."))
    return area


def _area_parent(db: Session, parent_id: int | None) -> int | None:
    if parent_id is None:
        return None
    if db.get(Area, parent_id) is None:
        raise ValidationError(_("No such parent area."), details={"field": "parent_id"})
    return parent_id


def create_area(db: Session, *, code: str, name: str, parent_id: int | None, actor: Actor) -> Area:
    clean_code, clean_name = _code_and_name(code, name)
    if db.scalar(select(Area.id).where(Area.code == clean_code)):
        raise ConflictError(_("An area with this code exists already."), details={"field": "code"})
    area = Area(code=clean_code, name=clean_name, parent_id=_area_parent(db, parent_id))
    db.add(area)
    db.flush()
    record_event(
        db,
        "area.created",
        actor=actor,
        object_type="area",
        object_id=area.id,
        details={"parent_id": area.parent_id},
    )
    return area


def update_area(
    db: Session,
    area_id: int,
    *,
    code: str,
    name: str,
    parent_id: int | None,
    actor: Actor,
) -> Area:
    """Rename an area or put it under another. A move changes who belongs on the terminals
    of the area and of those below it, so each of them is queued a reconciliation."""
    area = get_area(db, area_id)
    clean_code, clean_name = _code_and_name(code, name)
    if clean_code != area.code and db.scalar(select(Area.id).where(Area.code == clean_code)):
        raise ConflictError(_("An area with this code exists already."), details={"field": "code"})
    parent_id = _area_parent(db, parent_id)
    if parent_id is not None and _would_cycle(db, Area, area.id, parent_id):
        raise ValidationError(
            _("An area cannot be put under itself or an area below it."),
            details={"field": "parent_id"},
        )
    changed = [
        key
        for key, value in (("code", clean_code), ("name", clean_name), ("parent_id", parent_id))
        if getattr(area, key) != value
    ]
    if not changed:
        return area
    area.code = clean_code
    area.name = clean_name
    area.parent_id = parent_id
    db.flush()
    reconciled = 0
    if "parent_id" in changed:
        below = distribution.area_with_descendants(db, [area.id])
        for terminal in db.scalars(
            select(Terminal).where(Terminal.area_id.in_(below)).order_by(Terminal.id)
        ):
            if terminal.enabled and terminal.transport in distribution.BINARY:
                distribution.queue_command(db, terminal, CommandKind.RECONCILE, cause="area_moved")
                reconciled += 1
    record_event(
        db,
        "area.moved" if "parent_id" in changed else "area.updated",
        actor=actor,
        object_type="area",
        object_id=area.id,
        details={
            "fields": ",".join(changed),
            "parent_id": area.parent_id,
            "terminals_reconciled": reconciled,
        },
    )
    return area


def area_counts(db: Session) -> tuple[dict[int, int], dict[int, int]]:
    """(employees, terminals) per area, for the areas page."""
    people = db.execute(
        select(employee_areas.c.area_id, func.count()).group_by(employee_areas.c.area_id)
    )
    terminals = db.execute(
        select(Terminal.area_id, func.count())
        .where(Terminal.area_id.is_not(None))
        .group_by(Terminal.area_id)
    )
    return (
        {cast(int, a): cast(int, n) for a, n in people},
        {int(a): int(n) for a, n in terminals if a is not None},
    )
