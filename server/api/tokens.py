# SPDX-License-Identifier: GPL-2.0-or-later
"""API tokens (issue #6): create, list, revoke, and check one presented by a client.

A token is ``rc_ro_`` (read-only) or ``rc_rw_`` (read-write) followed by 43 random URL-safe
characters (256 bits). Only its SHA-256 is stored: the token is shown once, at creation.
A token acts as its owner, with the owner's role and department scope; a read-only token
cannot change anything whatever the owner's role. Services flush and audit (identifiers
only, never the token); the caller commits.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.api.models import ApiToken
from server.audit.services import Actor, record_event
from server.auth.models import Account
from server.auth.throttle import SignInThrottle
from server.db import utcnow
from server.errors import (
    AppError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    ValidationError,
)

READ_ONLY_PREFIX = "rc_ro_"
READ_WRITE_PREFIX = "rc_rw_"
# The stored prefix: the kind and six random characters, to tell tokens apart in a list.
SHOWN_PREFIX_LENGTH = len(READ_ONLY_PREFIX) + 6
MAX_NAME = 100
MAX_DAYS = 3650
MAX_TOKEN_LENGTH = 128
# last_used_at is written at most this often, so a busy client does not write on every call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    row: ApiToken
    secret: str = field(repr=False)  # shown once, never stored


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    db: Session,
    *,
    account_id: int,
    name: str,
    read_only: bool,
    actor: Actor,
    days: int | None = None,
    now: datetime | None = None,
) -> IssuedToken:
    """Issue a token for ``account_id``; ``days`` bounds its life (None: until revoked)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError(
            _("A token needs a name that says what uses it."), details={"field": "name"}
        )
    if len(name) > MAX_NAME:
        raise ValidationError(
            _("A token's name has at most %(n)d characters.", n=MAX_NAME),
            details={"field": "name"},
        )
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise ValidationError(
            _("A token lasts from 1 to %(n)d days.", n=MAX_DAYS), details={"field": "days"}
        )
    account = db.get(Account, account_id)
    if account is None or not account.active:
        raise NotFoundError(_("No such account, or it is switched off."))
    now = now or utcnow()
    secret = (READ_ONLY_PREFIX if read_only else READ_WRITE_PREFIX) + secrets.token_urlsafe(32)
    row = ApiToken(
        account_id=account.id,
        name=name,
        prefix=secret[:SHOWN_PREFIX_LENGTH],
        token_hash=token_hash(secret),
        read_only=read_only,
        created_at=now,
        expires_at=now + timedelta(days=days) if days is not None else None,
    )
    db.add(row)
    db.flush()
    record_event(
        db,
        "api_token.created",
        actor=actor,
        object_type="api_token",
        object_id=row.id,
        details={
            "account": account.id,
            "read_only": read_only,
            "expires_at": row.expires_at.isoformat(timespec="seconds") if row.expires_at else None,
        },
    )
    return IssuedToken(row, secret)


def list_tokens(db: Session, *, account_id: int | None = None) -> list[ApiToken]:
    """Tokens, newest first; one account's, or everyone's (for an administrator)."""
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if account_id is not None:
        query = query.where(ApiToken.account_id == account_id)
    return list(db.scalars(query))


def revoke_token(
    db: Session,
    token_id: int,
    *,
    actor: Actor,
    owner_id: int | None = None,
    now: datetime | None = None,
) -> ApiToken:
    """Revoke a token at once. With ``owner_id``, only that account's token (someone else's
    is reported as not found, so ids of others' tokens are not confirmed)."""
    row = db.get(ApiToken, token_id)
    if row is None or (owner_id is not None and row.account_id != owner_id):
        raise NotFoundError(_("No such token."))
    if row.revoked_at is not None:
        raise ConflictError(_("Token %(id)s is already revoked.", id=token_id))
    row.revoked_at = now or utcnow()
    row.revoked_by_id = actor.account_id
    db.flush()
    record_event(
        db,
        "api_token.revoked",
        actor=actor,
        object_type="api_token",
        object_id=row.id,
        details={"account": row.account_id},
    )
    return row


@dataclass(frozen=True, slots=True)
class TokenCheck:
    token: ApiToken
    account: Account
    touched: bool  # last_used_at moved: the caller commits it


# The shape of a token as issued: its shown prefix may be logged, the rest never.
_TOKEN_SHAPE = re.compile(r"rc_r[ow]_[A-Za-z0-9_-]{43}")


def _refused(
    db: Session,
    presented: str,
    reason: str,
    *,
    actor: Actor | None,
    row: ApiToken | None = None,
    throttle: SignInThrottle | None = None,
) -> AppError:
    """The 401 for ``presented``, after an entry in the operation log (#6). The entry holds
    the reason, the token's row when it is known, and at most the token's shown prefix,
    never the token; the caller commits before answering, so the entry survives.

    With ``throttle`` (the app's per-address sign-in throttle), a refusal counts as a failed
    sign-in of the client's address; past the limit the answer is 429 and only the first
    refusal of the spell is logged, so a flood of bad tokens cannot flood the log (#6 review).
    """
    address = actor.ip_address if actor is not None else None
    if throttle is not None and actor is not None:
        verdict = throttle.check(address)
        if verdict.retry_after:
            if verdict.first_refusal:
                record_event(
                    db,
                    "api_token.throttled",
                    actor=Actor("anonymous", None, actor.ip_address, actor.user_agent),
                    details={"retry_after_s": verdict.retry_after},
                )
            return AppError(
                _(
                    "Too many refused API tokens from this address. "
                    "Try again in %(minutes)d minutes.",
                    minutes=max(1, math.ceil(verdict.retry_after / 60)),
                ),
                status=429,
                code="too_many_requests",
                details={"retry_after_s": verdict.retry_after},
            )
        throttle.failed(address)
    if actor is not None:
        if row is not None:
            prefix: str | None = row.prefix
        elif _TOKEN_SHAPE.fullmatch(presented):
            prefix = presented[:SHOWN_PREFIX_LENGTH]
        else:
            prefix = None  # not a token of ours: it could be anything, even a password
        record_event(
            db,
            "api_token.refused",
            actor=Actor("anonymous", None, actor.ip_address, actor.user_agent),
            object_type="api_token" if row is not None else None,
            object_id=row.id if row is not None else None,
            details={
                "reason": reason,
                "prefix": prefix,
                "account": row.account_id if row is not None else None,
            },
        )
    # The message is the same whatever the reason: a client learns only that it failed.
    return AuthenticationError(_("The API token is unknown, revoked or expired."))


def check_token(
    db: Session,
    presented: str,
    *,
    actor: Actor | None = None,
    now: datetime | None = None,
    throttle: SignInThrottle | None = None,
) -> TokenCheck:
    """The token and owner behind ``presented``, or :class:`AuthenticationError` (401).

    The message is the same for unknown, revoked and expired tokens: a client learns only
    that this token does not work. With ``actor`` (the request's address and browser), a
    refusal is written to the operation log (flushed; the caller commits it even though
    the request fails). With ``throttle``, refusals count against the client's address:
    past the limit they are answered 429 (an :class:`AppError`) and not logged one by one.
    A good token is never throttled: 256 random bits are not guessed, and a client that
    shares its address with a broken one keeps working.
    """
    now = now or utcnow()

    def refused(reason: str, row: ApiToken | None = None) -> AppError:
        return _refused(db, presented, reason, actor=actor, row=row, throttle=throttle)

    if len(presented) > MAX_TOKEN_LENGTH or not presented.startswith(
        (READ_ONLY_PREFIX, READ_WRITE_PREFIX)
    ):
        raise refused("malformed")
    digest = token_hash(presented)
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    # The lookup is by the hash; compare it again in constant time all the same.
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise refused("unknown")
    if row.revoked_at is not None:
        raise refused("revoked", row)
    if not row.usable(now):
        raise refused("expired", row)
    if row.read_only != presented.startswith(READ_ONLY_PREFIX):
        raise refused("wrong_kind", row)
    account = db.get(Account, row.account_id)
    if account is None or not account.active:
        raise refused("account_inactive", row)
    touched = row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION
    if touched:
        row.last_used_at = now
        db.flush()
    return TokenCheck(row, account, touched)
