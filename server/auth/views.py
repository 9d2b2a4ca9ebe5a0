# SPDX-License-Identifier: GPL-2.0-or-later
"""Sign-in and sign-out pages."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any, cast

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.audit.services import record_event
from server.auth import services, totp
from server.auth.forms import LoginForm
from server.auth.security_forms import CodeForm
from server.auth.throttle import SignInThrottle
from server.db import utcnow
from server.errors import ValidationError
from server.web import (
    client_ip,
    current_account,
    current_actor,
    get_session,
    instance_key,
    local_path,
    start_session,
)

bp = Blueprint("auth", __name__)

GENERIC_FAILURE = _l("Sign-in failed: check the username and password, or ask an administrator.")
CODE_FAILURE = _l("Sign-in failed: check the code, or ask an administrator.")
PENDING_SECOND_FACTOR = "second_factor"
# How long the code may follow the password before the sign-in starts over.
SECOND_FACTOR_WINDOW = timedelta(minutes=5)


def _safe_next(target: str | None) -> str:
    return local_path(target) or url_for("dashboard.index")


def _throttle() -> SignInThrottle:
    return cast(SignInThrottle, current_app.extensions["rollcall.sign_in_throttle"])


def _throttled() -> ResponseReturnValue | None:
    """429 while this address has failed too often. The first refusal of a spell goes to
    the operation log, not each one: a flood of attempts must not flood the log."""
    verdict = _throttle().check(client_ip())
    if not verdict.retry_after:
        return None
    if verdict.first_refusal:
        db = get_session()
        record_event(
            db,
            "auth.sign_in_throttled",
            actor=current_actor(),
            details={"retry_after_s": verdict.retry_after},
        )
        db.commit()
    error = _(
        "Too many failed sign-ins from this computer. Try again in %(minutes)d minutes.",
        minutes=max(1, math.ceil(verdict.retry_after / 60)),
    )
    if request.endpoint == "auth.second_factor":
        page = render_template("auth/second_factor.html", form=CodeForm(), error=error)
    else:
        page = render_template("auth/login.html", form=LoginForm(), error=error)
    return page, 429, {"Retry-After": str(verdict.retry_after)}


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_account() is not None and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        refused = _throttled()
        if refused is not None:
            return refused
        db = get_session()
        result = services.authenticate(
            db, username=form.username.data, password=form.password.data, actor=current_actor()
        )
        db.commit()  # a failed attempt is counted too
        if result.account is None and result.second_factor_for is None:
            _throttle().failed(client_ip())
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
        refused = _throttled()
        if refused is not None:
            return refused
        db = get_session()
        result = totp.complete_sign_in(
            db, pending["account"], form.code.data, kek=instance_key(), actor=current_actor()
        )
        db.commit()  # a failed attempt is counted too
        if result.account is not None:
            start_session(result.account)  # a fresh session: the pending step is gone
            return redirect(_safe_next(str(pending.get("next") or "")))
        _throttle().failed(client_ip())
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
        # Every copy of the session cookie ends, on this browser and any other.
        account.end_sessions()
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
            start_session(account)  # this browser goes on under the new epoch
            flash(_("Your password is changed."), "success")
            return redirect(url_for("dashboard.index"))
    status = 422 if error else 200
    return render_template(
        "auth/password.html", error=error, field=field, forced=account.must_change_password
    ), status
