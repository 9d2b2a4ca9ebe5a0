# SPDX-License-Identifier: GPL-2.0-or-later
"""Request plumbing shared by every blueprint: the request's database session, the signed-in
account, and the role checks. Nothing here holds request state in module globals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import current_app, g, request, session
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import Session, sessionmaker

from biometrics.errors import VaultError
from biometrics.keys import KeyEncryptionKey
from server.audit.services import Actor
from server.auth.models import Account, Role
from server.auth.scope import account_department_scope, may_handle_biometrics
from server.db import utcnow
from server.errors import AuthenticationError, NotFoundError, PermissionDeniedError
from server.sealing import instance_kek
from server.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def settings() -> Settings:
    return cast(Settings, current_app.extensions["rollcall.settings"])


def get_session() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db" not in g:
        makers = cast(sessionmaker[Session], current_app.extensions["rollcall.sessions"])
        g.db = makers()
    return cast(Session, g.db)


def close_session(_exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.rollback()  # whatever the view did not commit is dropped
        db.close()


def instance_key() -> KeyEncryptionKey | None:
    """The instance key-encryption key, or None when this process cannot load it (then
    sealed secrets cannot be opened: callers say so or carry on without them)."""
    try:
        return instance_kek(settings())
    except VaultError:
        return None


def current_account() -> Account | None:
    """The signed-in account: a session counts while its account is active, it carries
    the account's current epoch (signing out, a new password or a deactivation end every
    copy of the cookie) and it has been used within the idle timeout."""
    if "account" in g:
        return cast(Account | None, g.account)
    account: Account | None = None
    account_id = session.get("account_id")
    if isinstance(account_id, int):
        found = get_session().get(Account, account_id)
        idle = timedelta(minutes=settings().session_idle_minutes)
        if (
            found is not None
            and found.active
            and session.get("epoch") == found.session_epoch
            and not session_expired(utcnow(), idle)
        ):
            account = found
        else:
            session.clear()
    g.account = account
    return account


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None: a redirect to anything else
    would turn our own pages into a phishing tool. Browsers read a backslash as a slash
    and drop tabs and newlines, so ``/\\evil.example`` is another site too."""
    if not target or not target.startswith("/") or len(target) > 2048:
        return None
    if "\\" in target or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    if target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def client_ip() -> str | None:
    return request.remote_addr


def current_actor() -> Actor:
    account = current_account()
    ua = request.headers.get("User-Agent")
    if account is None:
        return Actor("anonymous", None, client_ip(), ua)
    token = g.get("api_token")
    if token is not None:  # the log tells which of the account's tokens acted
        return Actor(f"token:{token.id}", account.id, client_ip(), ua)
    return Actor("account", account.id, client_ip(), ua)


def session_expired(now: datetime, idle: timedelta) -> bool:
    seen = session.get("seen")
    if not isinstance(seen, (int, float)):
        return True
    return now.timestamp() - float(seen) > idle.total_seconds()


def start_session(account: Account) -> None:
    # A fresh session at sign-in: nothing set before it (by anyone) carries over.
    session.clear()
    session.permanent = True
    session["account_id"] = account.id
    session["epoch"] = account.session_epoch or 0
    session["seen"] = utcnow().timestamp()
    g.account = account


def require_role(*roles: Role | str) -> Callable[[F], F]:
    """The view needs a signed-in account with one of ``roles`` (admin always passes)."""
    allowed = {Role(r) for r in roles} | {Role.ADMIN}

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            account = current_account()
            if account is None:
                raise AuthenticationError(_("Sign in first."))
            if Role(account.role) not in allowed:
                raise PermissionDeniedError(_("Your role does not allow this."))
            return view(*args, **kwargs)

        wrapper.required_roles = allowed  # type: ignore[attr-defined]  # read by tests
        return cast(F, wrapper)

    return decorate


ANY_ROLE = tuple(Role)


# --------------------------------------------------------------------------- scope (issue #6)
def _signed_in() -> Account:
    account = current_account()
    if account is None:
        raise AuthenticationError(_("Sign in first."))
    return account


def department_scope() -> frozenset[int] | None:
    """The departments the signed-in account may see: None for every department (and the
    people without one); otherwise the ids of its departments and all below them.

    Only HR managers and viewers are limited, by rows in ``account_departments``; an HR
    account without rows, and every other role, is unrestricted.
    """
    if "department_scope" not in g:
        g.department_scope = account_department_scope(get_session(), _signed_in())
    return cast(frozenset[int] | None, g.department_scope)


def in_department_scope(department_id: int | None) -> bool:
    """Whether a person of ``department_id`` (None: no department) is in scope."""
    scope = department_scope()
    return scope is None or (department_id is not None and department_id in scope)


def department_scope_clause(department_column: Any) -> ColumnElement[bool]:
    """A WHERE clause keeping rows whose department is in scope, e.g.
    ``select(Employee).where(department_scope_clause(Employee.department_id))``."""
    scope = department_scope()
    if scope is None:
        return true()
    return cast(ColumnElement[bool], department_column.in_(sorted(scope)))


def require_department_scope(department_id: int | None) -> None:
    """404 for an out-of-scope person: their existence is not revealed either."""
    if not in_department_scope(department_id):
        raise NotFoundError(_("No such employee."))


def has_biometric_permission() -> bool:
    account = current_account()
    return account is not None and may_handle_biometrics(account)


def require_biometric_permission() -> None:
    """Call first in a view that enrols, distributes or deletes templates: administrators,
    and HR managers granted the biometric permission, may; everyone else gets 403."""
    if not may_handle_biometrics(_signed_in()):
        raise PermissionDeniedError(_("Biometric actions need the biometric permission."))
