# SPDX-License-Identifier: GPL-2.0-or-later
"""What an account may see and do beyond its role: department scope and the biometric
permission (issue #6). Plain functions of the session; ``server.web`` applies them to the
signed-in account."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.models import Account, Role, account_departments
from server.organization.models import Department

# Roles whose view of people can be limited to departments.
SCOPED_ROLES = frozenset({Role.HR_MANAGER, Role.HR_VIEWER})
# Roles that may hold the biometric permission (administrators have it implicitly).
BIOMETRIC_ROLES = frozenset({Role.HR_MANAGER})


def department_with_descendants(db: Session, department_ids: Iterable[int]) -> frozenset[int]:
    """The departments given and every department below them (one query for the tree)."""
    children: dict[int, list[int]] = {}
    for dept_id, parent_id in db.execute(select(Department.id, Department.parent_id)):
        if parent_id is not None:
            children.setdefault(parent_id, []).append(dept_id)
    found: set[int] = set()
    todo = list(department_ids)
    while todo:
        current = todo.pop()
        if current in found:
            continue
        found.add(current)
        todo.extend(children.get(current, ()))
    return frozenset(found)


def assigned_departments(db: Session, account_id: int) -> list[int]:
    """The departments an account is limited to (its own rows, without descendants)."""
    return sorted(
        db.scalars(
            select(account_departments.c.department_id).where(
                account_departments.c.account_id == account_id
            )
        )
    )


def account_department_scope(db: Session, account: Account) -> frozenset[int] | None:
    """None: unrestricted. Otherwise the visible department ids, descendants included."""
    if Role(account.role) not in SCOPED_ROLES:
        return None
    own = assigned_departments(db, account.id)
    if not own:
        return None
    return department_with_descendants(db, own)


def may_handle_biometrics(account: Account) -> bool:
    if not account.active:
        return False
    role = Role(account.role)
    return role is Role.ADMIN or (role in BIOMETRIC_ROLES and bool(account.biometric_permission))
