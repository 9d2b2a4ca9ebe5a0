# SPDX-License-Identifier: GPL-2.0-or-later
"""The optional TOTP second factor (RFC 6238; issue #6), with one-time recovery codes.

* Enrolment: a new secret is sealed with the instance key (``server.sealing``, bound to the
  account) and shown once as a QR code and as text; it counts only once a code made from it
  is typed back (:func:`confirm_enrolment`), which also issues the recovery codes.
* Sign-in: after the password (``services.authenticate`` says a second factor is due), a
  code from the authenticator or an unused recovery code completes it
  (:func:`complete_sign_in`). Failures count with the password's failures and lock the
  account the same way. A code is accepted once: the time step of the last accepted code
  is kept and no code of that step or an earlier one is accepted again.
* Disabling needs the password and a code; an administrator may reset an account's second
  factor (a lost phone), which is audited.

Neither the secret nor a code is ever logged or audited. Services flush and audit; the
caller commits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from biometrics.keys import KeyEncryptionKey
from server.audit.services import Actor, record_event
from server.auth.models import Account, RecoveryCode, SecondFactor
from server.auth.passwords import verify_password
from server.auth.services import LOCKOUT_DURATION, LOCKOUT_THRESHOLD, SignInResult
from server.db import utcnow
from server.errors import ConflictError, NotFoundError, ValidationError
from server.sealing import open_secret, seal_secret

ISSUER = "Rollcall"
SECRET_PURPOSE = "totp-secret"  # noqa: S105 -- the sealing purpose label, not a secret
RECOVERY_CODES = 10
# Codes of the previous and the next 30-second step are accepted too (clock drift).
DRIFT_STEPS = 1
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read back by people
_RECOVERY_GROUPS, _RECOVERY_GROUP_LEN = 4, 4  # 16 characters of 31: about 79 bits
_DIGITS = re.compile(r"^\d{6}$")


def secret_owner(account_id: int) -> str:
    return f"account:{account_id}"


def _seal(kek: KeyEncryptionKey, account_id: int, secret: str) -> bytes:
    return seal_secret(kek, secret, purpose=SECRET_PURPOSE, owner=secret_owner(account_id))


def _open(kek: KeyEncryptionKey, factor: SecondFactor) -> str:
    return open_secret(
        kek, factor.secret_sealed, purpose=SECRET_PURPOSE, owner=secret_owner(factor.account_id)
    )


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(normalize_recovery_code(code).encode("ascii")).hexdigest()


def normalize_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _new_recovery_code() -> str:
    groups = (
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_GROUP_LEN))
        for _ in range(_RECOVERY_GROUPS)
    )
    return "-".join(groups)


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is (within the drift allowed), else None."""
    code = code.strip().replace(" ", "")
    if not _DIGITS.match(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # Every candidate is compared, in constant time, whichever matches.
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def factor_of(db: Session, account_id: int) -> SecondFactor | None:
    return db.get(SecondFactor, account_id)


def is_enabled(db: Session, account_id: int) -> bool:
    factor = factor_of(db, account_id)
    return factor is not None and factor.confirmed_at is not None


def recovery_codes_left(db: Session, account_id: int) -> int:
    return len(
        db.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.account_id == account_id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


# --------------------------------------------------------------------------- enrolment
def begin_enrolment(db: Session, account: Account, *, kek: KeyEncryptionKey, actor: Actor) -> str:
    """A new secret for ``account`` (returned once, for the QR code); not yet in force."""
    factor = factor_of(db, account.id)
    if factor is not None and factor.confirmed_at is not None:
        raise ConflictError(_("The second factor is on already; turn it off first."))
    secret = pyotp.random_base32()
    if factor is None:
        factor = SecondFactor(account_id=account.id, secret_sealed=_seal(kek, account.id, secret))
        db.add(factor)
    else:
        factor.secret_sealed = _seal(kek, account.id, secret)
        factor.created_at = utcnow()
        factor.last_step = None
    db.flush()
    record_event(
        db,
        "auth.second_factor_enrolment_started",
        actor=actor,
        object_type="account",
        object_id=account.id,
    )
    return secret


def pending_secret(db: Session, account: Account, *, kek: KeyEncryptionKey) -> str | None:
    """The secret of an enrolment not yet confirmed (to show its QR code again)."""
    factor = factor_of(db, account.id)
    if factor is None or factor.confirmed_at is not None:
        return None
    return _open(kek, factor)


def _issue_recovery_codes(db: Session, account_id: int) -> list[str]:
    db.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account_id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    db.add_all(RecoveryCode(account_id=account_id, code_hash=_recovery_hash(c)) for c in codes)
    db.flush()
    return codes


def confirm_enrolment(
    db: Session,
    account: Account,
    code: str,
    *,
    kek: KeyEncryptionKey,
    actor: Actor,
    now: datetime | None = None,
) -> list[str]:
    """Switch the second factor on once ``code`` matches; returns the recovery codes (shown
    once, stored hashed)."""
    now = now or utcnow()
    factor = factor_of(db, account.id)
    if factor is None or factor.confirmed_at is not None:
        raise ConflictError(_("There is no set-up of a second factor to confirm."))
    step = matching_step(_open(kek, factor), code, now)
    if step is None:
        raise ValidationError(
            _("That code does not match. Check the phone's clock and type the current code."),
            details={"field": "code"},
        )
    factor.confirmed_at = now
    factor.last_step = step
    codes = _issue_recovery_codes(db, account.id)
    record_event(
        db,
        "auth.second_factor_enabled",
        actor=actor,
        object_type="account",
        object_id=account.id,
        details={"recovery_codes": len(codes)},
    )
    return codes


# --------------------------------------------------------------------------- checking a code
@dataclass(frozen=True, slots=True)
class CodeCheck:
    method: str | None  # "totp", "recovery_code", or None when the code was refused
    reason: str | None = None  # why refused: "wrong_code", "replayed", "no_key"


def _check_code(
    db: Session,
    account: Account,
    factor: SecondFactor,
    code: str,
    *,
    kek: KeyEncryptionKey | None,
    now: datetime,
) -> CodeCheck:
    """Check ``code`` as a TOTP code, else as a recovery code; consume what matched."""
    if _DIGITS.match(code.strip().replace(" ", "")):
        if kek is None:
            # Without the instance key the secret cannot be opened; recovery codes still work.
            return CodeCheck(None, "no_key")
        step = matching_step(_open(kek, factor), code, now)
        if step is None:
            return CodeCheck(None, "wrong_code")
        if factor.last_step is not None and step <= factor.last_step:
            return CodeCheck(None, "replayed")
        factor.last_step = step
        db.flush()
        return CodeCheck("totp")
    normalized = normalize_recovery_code(code)
    if len(normalized) != _RECOVERY_GROUPS * _RECOVERY_GROUP_LEN:
        return CodeCheck(None, "wrong_code")
    digest = _recovery_hash(normalized)
    row = db.scalar(
        select(RecoveryCode).where(
            RecoveryCode.account_id == account.id,
            RecoveryCode.code_hash == digest,
        )
    )
    if row is None or not hmac.compare_digest(row.code_hash, digest):
        return CodeCheck(None, "wrong_code")
    if row.used_at is not None:
        return CodeCheck(None, "replayed")
    row.used_at = now
    db.flush()
    return CodeCheck("recovery_code")


def _count_failure(account: Account, now: datetime) -> None:
    account.failed_logins += 1
    if account.failed_logins >= LOCKOUT_THRESHOLD:
        account.locked_until = now + LOCKOUT_DURATION
        account.failed_logins = 0


def complete_sign_in(
    db: Session,
    account_id: int,
    code: str,
    *,
    kek: KeyEncryptionKey | None,
    actor: Actor,
    now: datetime | None = None,
) -> SignInResult:
    """The second step of signing in, after the password. Failures are counted with the
    password's and lock the account alike; both outcomes are audited (never the code). The
    caller commits whatever the result."""
    now = now or utcnow()
    account = db.get(Account, account_id)
    factor = factor_of(db, account_id)
    reason: str | None = None
    check = CodeCheck(None)
    if account is None or not account.active:
        reason = "inactive"
    elif factor is None or factor.confirmed_at is None:
        reason = "no_second_factor"
    elif account.locked_until is not None and account.locked_until > now:
        reason = "locked"
    else:
        check = _check_code(db, account, factor, code, kek=kek, now=now)
        if check.method is None:
            reason = check.reason or "wrong_code"
            _count_failure(account, now)
    if reason is not None or account is None:
        record_event(
            db,
            "auth.second_factor_failed",
            actor=Actor("anonymous", None, actor.ip_address, actor.user_agent),
            object_type="account",
            object_id=account_id,
            details={"reason": reason},
        )
        return SignInResult(None, reason)
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    record_event(
        db,
        "auth.signed_in",
        actor=Actor("account", account.id, actor.ip_address, actor.user_agent),
        object_type="account",
        object_id=account.id,
        details={"second_factor": check.method},
    )
    return SignInResult(account)


# --------------------------------------------------------------------------- turning it off
def _require_password_and_code(
    db: Session,
    account: Account,
    *,
    password: str,
    code: str,
    kek: KeyEncryptionKey | None,
    now: datetime,
) -> SecondFactor:
    factor = factor_of(db, account.id)
    if factor is None or factor.confirmed_at is None:
        raise ConflictError(_("The second factor is not on."))
    if account.locked_until is not None and account.locked_until > now:
        raise ValidationError(_("Too many wrong attempts; try again later."))
    password_ok = verify_password(account.password_hash, password)
    check = _check_code(db, account, factor, code, kek=kek, now=now) if password_ok else None
    if check is None or check.method is None:
        _count_failure(account, now)
        raise ValidationError(_("The password or the code is wrong."), details={"field": "code"})
    return factor


def disable(
    db: Session,
    account: Account,
    *,
    password: str,
    code: str,
    kek: KeyEncryptionKey | None,
    actor: Actor,
    now: datetime | None = None,
) -> None:
    """Turn the account's second factor off; needs its password and a current code (or a
    recovery code). A failure counts like a failed sign-in; the caller commits either way."""
    now = now or utcnow()
    _require_password_and_code(db, account, password=password, code=code, kek=kek, now=now)
    _remove(db, account.id)
    record_event(
        db, "auth.second_factor_disabled", actor=actor, object_type="account", object_id=account.id
    )


def new_recovery_codes(
    db: Session,
    account: Account,
    *,
    password: str,
    code: str,
    kek: KeyEncryptionKey | None,
    actor: Actor,
    now: datetime | None = None,
) -> list[str]:
    """Replace the recovery codes (the old ones stop working); needs password and code."""
    now = now or utcnow()
    _require_password_and_code(db, account, password=password, code=code, kek=kek, now=now)
    codes = _issue_recovery_codes(db, account.id)
    record_event(
        db,
        "auth.recovery_codes_renewed",
        actor=actor,
        object_type="account",
        object_id=account.id,
        details={"recovery_codes": len(codes)},
    )
    return codes


def _remove(db: Session, account_id: int) -> None:
    db.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account_id))
    db.execute(delete(SecondFactor).where(SecondFactor.account_id == account_id))
    db.flush()


def reset(db: Session, account_id: int, *, actor: Actor) -> None:
    """An administrator removes an account's second factor (a lost phone); the account
    signs in with its password alone until it enrols again."""
    if db.get(Account, account_id) is None:
        raise NotFoundError(_("No such account."))
    if factor_of(db, account_id) is None:
        raise ConflictError(_("This account has no second factor."))
    _remove(db, account_id)
    record_event(
        db, "auth.second_factor_reset", actor=actor, object_type="account", object_id=account_id
    )
