# SPDX-License-Identifier: GPL-2.0-or-later
"""Sign-in and sign-out pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from server.audit.services import record_event
from server.auth import services
from server.auth.forms import LoginForm
from server.web import current_account, current_actor, get_session, start_session

bp = Blueprint("auth", __name__)

GENERIC_FAILURE = _l("Sign-in failed: check the username and password, or ask an administrator.")


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
        error = GENERIC_FAILURE
    elif request.method == "POST":
        error = GENERIC_FAILURE
    status = 401 if error else 200
    return render_template("auth/login.html", form=form, error=error), status


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
