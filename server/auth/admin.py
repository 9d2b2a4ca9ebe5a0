# SPDX-License-Identifier: GPL-2.0-or-later
"""Administering accounts: role, department scope, biometric permission, deactivation and
password resets (issue #6). Services flush and audit (identifiers only); the caller commits.

Two rules keep an installation manageable: an administrator cannot deactivate or demote
themselves, and the last active administrator cannot be removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from flask_babel import gettext as _
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from server.audit.services import Actor, record_event
from server.auth.models import Account, Role, account_departments
from server.auth.passwords import generate_password, hash_password
from server.auth.scope import BIOMETRIC_ROLES, SCOPED_ROLES, assigned_departments
from server.errors import ConflictError, NotFoundError, ValidationError
from server.organization.models import Department

MAX_DISPLAY_NAME = 200


def get_account(db: Session, account_id: int) -> Account:
    account = db.get(Account, account_id)
    if account is None:
        raise NotFoundError(_("No such account."))
    return account


def list_accounts(db: Session) -> list[Account]:
    return list(db.scalars(select(Account).order_by(Account.active.desc(), Account.username)))


def scopes_by_account(db: Session) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for account_id, department_id in db.execute(
        select(account_departments.c.account_id, account_departments.c.department_id)
    ):
        out.setdefault(cast(int, account_id), []).append(cast(int, department_id))
    return out


def _other_active_admins(db: Session, account_id: int) -> int:
    return (
        db.scalar(
            select(func.count()).where(
                Account.role == Role.ADMIN.value,
                Account.active.is_(True),
                Account.id != account_id,
            )
        )
        or 0
    )


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise ValidationError(_("Unknown role."), details={"field": "role"}) from None


@dataclass(frozen=True, slots=True)
class Access:
    """What an account may do besides signing in."""

    role: str
    department_ids: tuple[int, ...] = ()
    biometric_permission: bool = False


def _checked_access(db: Session, access: Access) -> Access:
    role = _role(access.role)
    departments = tuple(sorted(set(access.department_ids)))
    if departments and role not in SCOPED_ROLES:
        raise ValidationError(
            _("Only HR managers and HR viewers can be limited to departments."),
            details={"field": "department_ids"},
        )
    if departments:
        known = set(db.scalars(select(Department.id).where(Department.id.in_(departments))))
        if set(departments) - known:
            raise ValidationError(_("No such department."), details={"field": "department_ids"})
    if access.biometric_permission and role not in BIOMETRIC_ROLES:
        raise ValidationError(
            _("Only HR managers hold the biometric permission (administrators always may)."),
            details={"field": "biometric_permission"},
        )
    return Access(role.value, departments, bool(access.biometric_permission))


def _write_departments(db: Session, account_id: int, wanted: Iterable[int]) -> None:
    db.execute(delete(account_departments).where(account_departments.c.account_id == account_id))
    rows = [{"account_id": account_id, "department_id": d} for d in sorted(set(wanted))]
    if rows:
        db.execute(insert(account_departments), rows)


def create_managed_account(
    db: Session,
    *,
    username: str,
    display_name: str | None,
    access: Access,
    password: str | None,
    actor: Actor,
) -> tuple[Account, str | None]:
    """Create an account for someone else. Without ``password`` one is generated and
    returned (to be shown once); either way the new user must choose their own at first
    sign-in, since the administrator knows this one."""
    from server.auth.services import create_account

    checked = _checked_access(db, access)
    generated = None if password else generate_password()
    account = create_account(
        db,
        username=username,
        password=password or generated or "",
        role=checked.role,
        actor=actor,
        display_name=(display_name or "").strip()[:MAX_DISPLAY_NAME] or None,
    )
    account.must_change_password = True
    account.biometric_permission = checked.biometric_permission
    _write_departments(db, account.id, checked.department_ids)
    db.flush()
    if checked.department_ids or checked.biometric_permission:
        record_event(
            db,
            "account.access_changed",
            actor=actor,
            object_type="account",
            object_id=account.id,
            details={
                "role": checked.role,
                "departments": ",".join(map(str, checked.department_ids)),
                "biometric_permission": checked.biometric_permission,
            },
        )
    return account, generated


def update_account(
    db: Session,
    account_id: int,
    *,
    display_name: str,
    access: Access,
    actor: Actor,
) -> Account:
    """Change an account's name, role, department scope and biometric permission."""
    account = get_account(db, account_id)
    checked = _checked_access(db, access)
    name = display_name.strip()
    if not 0 < len(name) <= MAX_DISPLAY_NAME:
        raise ValidationError(
            _("A display name has 1 to %(n)d characters.", n=MAX_DISPLAY_NAME),
            details={"field": "display_name"},
        )
    demoted = account.role == Role.ADMIN and checked.role != Role.ADMIN
    if demoted and actor.account_id == account.id:
        raise ConflictError(
            _("You cannot remove your own administrator role."), details={"field": "role"}
        )
    if demoted and account.active and not _other_active_admins(db, account.id):
        raise ConflictError(
            _("This is the last administrator; make another one first."),
            details={"field": "role"},
        )
    before = (
        account.role,
        tuple(assigned_departments(db, account.id)),
        account.biometric_permission,
    )
    after = (checked.role, checked.department_ids, checked.biometric_permission)
    renamed = account.display_name != name
    account.display_name = name
    account.role = checked.role
    account.biometric_permission = checked.biometric_permission
    if before[1] != after[1]:
        _write_departments(db, account.id, checked.department_ids)
    db.flush()
    if renamed:
        record_event(
            db,
            "account.updated",
            actor=actor,
            object_type="account",
            object_id=account.id,
            details={"fields": "display_name"},
        )
    if before != after:
        record_event(
            db,
            "account.access_changed",
            actor=actor,
            object_type="account",
            object_id=account.id,
            details={
                "role": checked.role,
                "previous_role": before[0],
                "departments": ",".join(map(str, checked.department_ids)),
                "biometric_permission": checked.biometric_permission,
            },
        )
    return account


def set_account_active(db: Session, account_id: int, active: bool, *, actor: Actor) -> Account:
    account = get_account(db, account_id)
    if account.active == active:
        return account
    if not active:
        if actor.account_id == account.id:
            raise ConflictError(_("You cannot deactivate your own account."))
        if account.role == Role.ADMIN and not _other_active_admins(db, account.id):
            raise ConflictError(_("This is the last administrator; make another one first."))
    account.active = active
    if active:
        account.failed_logins = 0
        account.locked_until = None
    else:
        account.end_sessions()
    db.flush()
    record_event(
        db,
        "account.activated" if active else "account.deactivated",
        actor=actor,
        object_type="account",
        object_id=account.id,
    )
    return account


def reset_password(db: Session, account_id: int, *, actor: Actor) -> str:
    """A new generated password, returned to be shown once; the user must change it at
    their next sign-in. A lockout is lifted with it, and the account's sessions end."""
    account = get_account(db, account_id)
    password = generate_password()
    account.password_hash = hash_password(password)
    account.must_change_password = True
    account.failed_logins = 0
    account.locked_until = None
    account.end_sessions()  # whoever held a session of it is signed out
    db.flush()
    record_event(
        db,
        "account.password_reset",
        actor=actor,
        object_type="account",
        object_id=account.id,
    )
    return password
