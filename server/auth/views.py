# SPDX-License-Identifier: GPL-2.0-or-later
"""Sign-in and sign-out pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.audit.services import record_event
from server.auth import services, totp
from server.auth.forms import LoginForm
from server.auth.security_forms import CodeForm
from server.db import utcnow
from server.errors import ValidationError
from server.web import current_account, current_actor, get_session, instance_key, start_session

bp = Blueprint("auth", __name__)

GENERIC_FAILURE = _l("Sign-in failed: check the username and password, or ask an administrator.")
CODE_FAILURE = _l("Sign-in failed: check the code, or ask an administrator.")
PENDING_SECOND_FACTOR = "second_factor"
# How long the code may follow the password before the sign-in starts over.
SECOND_FACTOR_WINDOW = timedelta(minutes=5)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect would make the login page a phishing tool.
    if not target:
        return url_for("dashboard.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("dashboard.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_account() is not None and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        db = get_session()
        result = services.authenticate(
            db, username=form.username.data, password=form.password.data, actor=current_actor()
        )
        db.commit()  # a failed attempt is counted too
        if result.account is not None:
            start_session(result.account)
            return redirect(_safe_next(request.args.get("next")))
        if result.second_factor_for is not None:
            # Not signed in yet: the session only remembers whose code to ask for.
            session.clear()
            session[PENDING_SECOND_FACTOR] = {
                "account": result.second_factor_for,
                "at": utcnow().timestamp(),
                "next": _safe_next(request.args.get("next")),
            }
            return redirect(url_for("auth.second_factor"))
        error = GENERIC_FAILURE
    elif request.method == "POST":
        error = GENERIC_FAILURE
    status = 401 if error else 200
    return render_template("auth/login.html", form=form, error=error), status


def _pending_second_factor() -> dict[str, Any] | None:
    pending = session.get(PENDING_SECOND_FACTOR)
    if (
        not isinstance(pending, dict)
        or not isinstance(pending.get("account"), int)
        or not isinstance(pending.get("at"), (int, float))
        or utcnow().timestamp() - float(pending["at"]) > SECOND_FACTOR_WINDOW.total_seconds()
    ):
        session.pop(PENDING_SECOND_FACTOR, None)
        return None
    return pending


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor() -> ResponseReturnValue:
    """The second step of signing in, for accounts with a second factor (issue #6)."""
    pending = _pending_second_factor()
    if pending is None:
        return redirect(url_for("auth.login"))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        db = get_session()
        result = totp.complete_sign_in(
            db, pending["account"], form.code.data, kek=instance_key(), actor=current_actor()
        )
        db.commit()  # a failed attempt is counted too
        if result.account is not None:
            start_session(result.account)  # a fresh session: the pending step is gone
            return redirect(_safe_next(str(pending.get("next") or "")))
        error = CODE_FAILURE
    elif request.method == "POST":
        error = CODE_FAILURE
    status = 401 if error else 200
    return render_template("auth/second_factor.html", form=form, error=error), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    account = current_account()
    if account is not None:
        db = get_session()
        record_event(
            db,
            "auth.signed_out",
            actor=current_actor(),
            object_type="account",
            object_id=account.id,
        )
        db.commit()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password() -> ResponseReturnValue:
    """Change one's own password; the only page open while a change is required."""
    account = current_account()
    if account is None:
        return redirect(url_for("auth.login"))
    error: str | None = None
    field: str | None = None
    if request.method == "POST":
        db = get_session()
        try:
            services.change_password(
                db,
                account.id,
                current=request.form.get("current", ""),
                new=request.form.get("new", ""),
                confirm=request.form.get("confirm", ""),
                actor=current_actor(),
            )
        except ValidationError as exc:
            db.rollback()
            error, field = exc.message, str(exc.details.get("field") or "")
        else:
            db.commit()
            flash(_("Your password is changed."), "success")
            return redirect(url_for("dashboard.index"))
    status = 422 if error else 200
    return render_template(
        "auth/password.html", error=error, field=field, forced=account.must_change_password
    ), status
