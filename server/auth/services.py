# SPDX-License-Identifier: GPL-2.0-or-later
"""Accounts and sign-in. Services flush and audit; the caller commits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.audit.services import Actor, record_event
from server.auth.models import Account, Role, SecondFactor
from server.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    verify_password,
)
from server.db import utcnow
from server.errors import ConflictError, ValidationError

LOCKOUT_THRESHOLD = 5
LOCKOUT_DURATION = timedelta(minutes=15)
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


def _password_length() -> str:
    return str(
        _(
            "A password has %(min)d to %(max)d characters.",
            min=MIN_PASSWORD_LENGTH,
            max=MAX_PASSWORD_LENGTH,
        )
    )


def create_account(
    db: Session,
    *,
    username: str,
    password: str,
    role: Role | str,
    actor: Actor,
    display_name: str | None = None,
) -> Account:
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise ValidationError(
            _("a username has 2 to 64 characters: lowercase letters, digits, '.', '_' or '-'"),
            details={"field": "username"},
        )
    try:
        role = Role(role)
    except ValueError:
        raise ValidationError(
            _("The role is one of: %(roles)s.", roles=", ".join(r.value for r in Role)),
            details={"field": "role"},
        ) from None
    try:
        password_hash = hash_password(password)
    except ValueError:
        raise ValidationError(_password_length(), details={"field": "password"}) from None
    if db.scalar(select(func.count()).where(Account.username == username)):
        raise ConflictError(_("This username is taken."), details={"field": "username"})
    account = Account(
        username=username,
        display_name=display_name or username,
        password_hash=password_hash,
        role=role,
        active=True,
        failed_logins=0,
        must_change_password=False,
    )
    db.add(account)
    db.flush()
    record_event(
        db,
        "account.created",
        actor=actor,
        object_type="account",
        object_id=account.id,
        details={"role": str(role)},
    )
    return account


def _hasher_rehash(password: str, old_hash: str) -> str:
    try:
        return hash_password(password)
    except ValueError:  # an older password outside today's length rules: keep its hash
        return old_hash


@dataclass(frozen=True, slots=True)
class SignInResult:
    account: Account | None
    # Never shown to the user: the page says only that sign-in failed.
    reason: str | None = None
    # The password was right but the account has a second factor: ``account`` stays None
    # (not signed in) and this names the account a code must complete the sign-in of
    # (server/auth/totp.py complete_sign_in).
    second_factor_for: int | None = None


def authenticate(
    db: Session, *, username: str, password: str, actor: Actor, now: datetime | None = None
) -> SignInResult:
    """Check a password, count failures, lock after repeated ones, and audit both outcomes.

    The caller commits whatever the result, so a failed attempt is counted.
    """
    now = now or utcnow()
    account = db.scalar(select(Account).where(Account.username == username.strip().lower()))
    # Always verify (against a dummy hash when the account is unknown): equal timing.
    password_ok = verify_password(account.password_hash if account else None, password)
    reason: str | None = None
    if account is None:
        reason = "unknown_account"
    elif not account.active:
        reason = "inactive"
    elif account.locked_until is not None and account.locked_until > now:
        reason = "locked"
    elif not password_ok:
        reason = "bad_password"
        account.failed_logins += 1
        if account.failed_logins >= LOCKOUT_THRESHOLD:
            account.locked_until = now + LOCKOUT_DURATION
            account.failed_logins = 0
    if reason is not None or account is None:
        record_event(
            db,
            "auth.sign_in_failed",
            actor=Actor("anonymous", None, actor.ip_address, actor.user_agent),
            object_type="account" if account else None,
            object_id=account.id if account else None,
            details={"reason": reason},
        )
        return SignInResult(None, reason)
    if needs_rehash(account.password_hash):
        # Parameters were raised since this hash was made; upgrade it while we can.
        account.password_hash = _hasher_rehash(password, account.password_hash)
    factor = db.get(SecondFactor, account.id)
    if factor is not None and factor.confirmed_at is not None:
        # Failures are not reset yet: they count until the code is right too, so the
        # password cannot be used to reset the count between guesses of the code.
        record_event(
            db,
            "auth.password_accepted",
            actor=Actor("anonymous", None, actor.ip_address, actor.user_agent),
            object_type="account",
            object_id=account.id,
            details={"second_factor": "required"},
        )
        return SignInResult(None, "second_factor_required", second_factor_for=account.id)
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    record_event(
        db,
        "auth.signed_in",
        actor=Actor("account", account.id, actor.ip_address, actor.user_agent),
        object_type="account",
        object_id=account.id,
    )
    return SignInResult(account)


def change_password(
    db: Session, account_id: int, *, current: str, new: str, confirm: str, actor: Actor
) -> Account:
    """An account changes its own password: the current one proves it is them; the new one
    is at least MIN_PASSWORD_LENGTH characters, differs from the current one, and is typed
    twice. Clears a forced change. Flushes and audits (never a password)."""
    account = db.get(Account, account_id)
    if account is None or not account.active:
        raise ValidationError(_("This account cannot change its password."))
    if not verify_password(account.password_hash, current):
        raise ValidationError(_("The current password is not right."), details={"field": "current"})
    if new != confirm:
        raise ValidationError(_("The two new passwords differ."), details={"field": "confirm"})
    if new == current:
        raise ValidationError(
            _("Choose a password other than the current one."), details={"field": "new"}
        )
    if not MIN_PASSWORD_LENGTH <= len(new) <= MAX_PASSWORD_LENGTH:
        raise ValidationError(_password_length(), details={"field": "new"})
    account.password_hash = hash_password(new)
    forced = account.must_change_password
    account.must_change_password = False
    # Sessions elsewhere end: someone who knew the old password may hold one.
    account.end_sessions()
    db.flush()
    record_event(
        db,
        "auth.password_changed",
        actor=actor,
        object_type="account",
        object_id=account.id,
        details={"was_required": forced},
    )
    return account
