# SPDX-License-Identifier: GPL-2.0-or-later
"""The account's own security pages (issue #6): its API tokens and its second factor.

Every account manages its own; an administrator also sees and revokes everyone's tokens and
resets someone's second factor. A new token and new recovery codes are rendered once, in
the response to the POST that made them, never stored or put in the session.
"""

from __future__ import annotations

import segno
from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from server.api import tokens
from server.auth import totp
from server.auth.models import Account, Role
from server.auth.security_forms import ButtonForm, CodeForm, PasswordAndCodeForm, TokenForm
from server.db import utcnow
from server.errors import AppError, ValidationError
from server.web import (
    ANY_ROLE,
    current_account,
    current_actor,
    get_session,
    instance_key,
    require_role,
)

bp = Blueprint("security", __name__, url_prefix="/account")


def _me() -> Account:
    account = current_account()
    assert account is not None  # noqa: S101  # require_role let the request in
    return account


# --------------------------------------------------------------------------- API tokens
def _tokens_page(
    form: TokenForm, new_secret: str | None = None, status: int = 200
) -> ResponseReturnValue:
    me = _me()
    is_admin = me.role == Role.ADMIN
    db = get_session()
    rows = tokens.list_tokens(db, account_id=None if is_admin else me.id)
    owners = dict(db.execute(select(Account.id, Account.username)).all()) if is_admin else {}
    return (
        render_template(
            "account/tokens.html",
            form=form,
            button=ButtonForm(),
            tokens=rows,
            owners=owners,
            is_admin=is_admin,
            me=me,
            now=utcnow(),
            new_secret=new_secret,
        ),
        status,
    )


@bp.get("/tokens")
@require_role(*ANY_ROLE)
def token_list() -> ResponseReturnValue:
    return _tokens_page(TokenForm())


@bp.post("/tokens")
@require_role(*ANY_ROLE)
def token_create() -> ResponseReturnValue:
    form = TokenForm()
    if not form.validate_on_submit():
        return _tokens_page(form, status=422)
    db = get_session()
    days = int(form.days.data or 0)
    try:
        issued = tokens.create_token(
            db,
            account_id=_me().id,
            name=form.name.data,
            read_only=bool(form.read_only.data),
            days=days or None,
            actor=current_actor(),
        )
    except ValidationError as exc:
        form.name.errors = [*form.name.errors, exc.message]
        return _tokens_page(form, status=422)
    db.commit()
    # Rendered, not redirected: the token exists only in this response.
    return _tokens_page(TokenForm(formdata=None), new_secret=issued.secret, status=201)


@bp.post("/tokens/<int:token_id>/revoke")
@require_role(*ANY_ROLE)
def token_revoke(token_id: int) -> ResponseReturnValue:
    if not ButtonForm().validate_on_submit():
        raise ValidationError(_("The form expired; reload the page and try again."))
    me = _me()
    db = get_session()
    tokens.revoke_token(
        db, token_id, actor=current_actor(), owner_id=None if me.role == Role.ADMIN else me.id
    )
    db.commit()
    flash(_("Token revoked: it no longer works."), "success")
    return redirect(url_for("security.token_list"))


# --------------------------------------------------------------------------- second factor
def _qr_data_uri(uri: str) -> str:
    # An image in a data: URI (the CSP allows img-src data:), drawn by Rollcall itself.
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


def _two_factor_page(
    *,
    secret: str | None = None,
    codes: list[str] | None = None,
    confirm: CodeForm | None = None,
    manage: PasswordAndCodeForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    me = _me()
    db = get_session()
    factor = totp.factor_of(db, me.id)
    enabled = factor is not None and factor.confirmed_at is not None
    key_missing = False
    if not enabled and factor is not None and secret is None:
        kek = instance_key()
        key_missing = kek is None
        if kek is not None:
            secret = totp.pending_secret(db, me, kek=kek)
    return (
        render_template(
            "account/two_factor.html",
            enabled=enabled,
            factor=factor,
            secret=secret,
            qr=_qr_data_uri(totp.provisioning_uri(secret, me.username)) if secret else None,
            codes=codes,
            codes_left=totp.recovery_codes_left(db, me.id) if enabled else 0,
            confirm=confirm or CodeForm(),
            manage=manage or PasswordAndCodeForm(),
            button=ButtonForm(),
            key_missing=key_missing,
            error=error,
        ),
        status,
    )


@bp.get("/two-factor")
@require_role(*ANY_ROLE)
def two_factor() -> ResponseReturnValue:
    return _two_factor_page()


@bp.post("/two-factor/setup")
@require_role(*ANY_ROLE)
def two_factor_setup() -> ResponseReturnValue:
    if not ButtonForm().validate_on_submit():
        raise ValidationError(_("The form expired; reload the page and try again."))
    kek = instance_key()
    if kek is None:
        return _two_factor_page(status=503)
    db = get_session()
    secret = totp.begin_enrolment(db, _me(), kek=kek, actor=current_actor())
    db.commit()
    return _two_factor_page(secret=secret)


@bp.post("/two-factor/confirm")
@require_role(*ANY_ROLE)
def two_factor_confirm() -> ResponseReturnValue:
    form = CodeForm()
    kek = instance_key()
    if not form.validate_on_submit() or kek is None:
        return _two_factor_page(confirm=form, status=422 if kek else 503)
    db = get_session()
    try:
        codes = totp.confirm_enrolment(db, _me(), form.code.data, kek=kek, actor=current_actor())
    except AppError as exc:
        return _two_factor_page(confirm=form, error=exc.message, status=exc.status)
    db.commit()
    return _two_factor_page(codes=codes, status=200)


def _with_password_and_code(action: str) -> ResponseReturnValue:
    form = PasswordAndCodeForm()
    if not form.validate_on_submit():
        return _two_factor_page(manage=form, status=422)
    db = get_session()
    me = _me()
    try:
        if action == "disable":
            totp.disable(
                db,
                me,
                password=form.password.data,
                code=form.code.data,
                kek=instance_key(),
                actor=current_actor(),
            )
            codes = None
        else:
            codes = totp.new_recovery_codes(
                db,
                me,
                password=form.password.data,
                code=form.code.data,
                kek=instance_key(),
                actor=current_actor(),
            )
    except AppError as exc:
        db.commit()  # the failed attempt is counted
        return _two_factor_page(
            manage=PasswordAndCodeForm(formdata=None), error=exc.message, status=exc.status
        )
    db.commit()
    if codes is None:
        flash(_("Second factor turned off: you sign in with your password alone."), "success")
        return redirect(url_for("security.two_factor"))
    return _two_factor_page(codes=codes)


@bp.post("/two-factor/disable")
@require_role(*ANY_ROLE)
def two_factor_disable() -> ResponseReturnValue:
    return _with_password_and_code("disable")


@bp.post("/two-factor/recovery-codes")
@require_role(*ANY_ROLE)
def two_factor_recovery_codes() -> ResponseReturnValue:
    return _with_password_and_code("renew")


@bp.post("/<int:account_id>/two-factor/reset")
@require_role(Role.ADMIN)
def two_factor_reset(account_id: int) -> ResponseReturnValue:
    """An administrator removes someone's second factor (a lost phone)."""
    if not ButtonForm().validate_on_submit():
        raise ValidationError(_("The form expired; reload the page and try again."))
    db = get_session()
    totp.reset(db, account_id, actor=current_actor())
    db.commit()
    flash(
        _("Second factor reset: the account signs in with its password until it sets one up."),
        "success",
    )
    if "accounts.index" in current_app.view_functions:
        return redirect(url_for("accounts.index"))
    return redirect(url_for("security.two_factor"))
