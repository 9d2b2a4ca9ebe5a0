# SPDX-License-Identifier: GPL-2.0-or-later
"""Accounts administration pages, for administrators only (issue #6)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from server.auth import admin
from server.auth.account_forms import AccessForm, NewAccountForm
from server.auth.models import Role
from server.auth.scope import assigned_departments
from server.errors import AppError
from server.organization import services as organization
from server.web import current_actor, get_session, require_role

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


def _department_choices() -> list[tuple[int, str]]:
    nodes = organization.flatten(
        organization.build_tree(organization.list_departments(get_session()))
    )
    return [(n.item.id, "\u2003" * n.depth + f"{n.item.name} ({n.item.code})") for n in nodes]


def _access(form: AccessForm) -> admin.Access:
    return admin.Access(
        role=form.role.data,
        department_ids=tuple(form.department_ids.data or ()),
        biometric_permission=bool(form.biometric_permission.data),
    )


def _field_error(form: AccessForm, exc: AppError) -> None:
    name = exc.details.get("field") if exc.details else None
    field = getattr(form, name, None) if isinstance(name, str) else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, exc.message]
    else:
        form.form_errors.append(exc.message)


@bp.get("")
@require_role(Role.ADMIN)
def index() -> ResponseReturnValue:
    db = get_session()
    return render_template(
        "accounts/index.html",
        accounts=admin.list_accounts(db),
        scopes=admin.scopes_by_account(db),
        departments={d.id: d for d in organization.list_departments(db)},
    )


@bp.route("/new", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def new() -> ResponseReturnValue:
    form = NewAccountForm(departments=_department_choices())
    if request.method == "GET":
        form.role.data = Role.HR_VIEWER.value
    if form.validate_on_submit():
        db = get_session()
        try:
            account, generated = admin.create_managed_account(
                db,
                username=form.username.data,
                display_name=form.display_name.data,
                access=_access(form),
                password=form.password.data or None,
                actor=current_actor(),
            )
        except AppError as exc:
            db.rollback()
            _field_error(form, exc)
        else:
            db.commit()
            # Rendered, not redirected: a generated password is shown once and never stored
            # anywhere else (not in the session cookie, not in a flash).
            return render_template("accounts/password.html", account=account, password=generated)
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/form.html", form=form, account=None), status


@bp.route("/<int:account_id>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def edit(account_id: int) -> ResponseReturnValue:
    db = get_session()
    account = admin.get_account(db, account_id)
    if request.method == "GET":
        form = AccessForm(obj=account, departments=_department_choices())
        form.department_ids.data = assigned_departments(db, account.id)
    else:
        form = AccessForm(departments=_department_choices())
    if form.validate_on_submit():
        try:
            admin.update_account(
                db,
                account.id,
                display_name=form.display_name.data,
                access=_access(form),
                actor=current_actor(),
            )
        except AppError as exc:
            db.rollback()
            _field_error(form, exc)
        else:
            db.commit()
            flash(_("Account %(username)s saved.", username=account.username), "success")
            return redirect(url_for("accounts.index"))
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/form.html", form=form, account=account), status


def _set_active(account_id: int, active: bool) -> ResponseReturnValue:
    db = get_session()
    try:
        account = admin.set_account_active(db, account_id, active, actor=current_actor())
    except AppError as exc:
        db.rollback()
        if exc.status == 404:
            raise
        flash(exc.message, "error")
        return redirect(url_for("accounts.edit", account_id=account_id))
    db.commit()
    message = (
        _("Account %(username)s reactivated.", username=account.username)
        if active
        else _("Account %(username)s deactivated.", username=account.username)
    )
    flash(message, "success")
    return redirect(url_for("accounts.index"))


@bp.post("/<int:account_id>/deactivate")
@require_role(Role.ADMIN)
def deactivate(account_id: int) -> ResponseReturnValue:
    return _set_active(account_id, False)


@bp.post("/<int:account_id>/activate")
@require_role(Role.ADMIN)
def activate(account_id: int) -> ResponseReturnValue:
    return _set_active(account_id, True)


@bp.post("/<int:account_id>/reset-password")
@require_role(Role.ADMIN)
def reset_password(account_id: int) -> ResponseReturnValue:
    db = get_session()
    password = admin.reset_password(db, account_id, actor=current_actor())
    db.commit()
    account = admin.get_account(db, account_id)
    return render_template("accounts/password.html", account=account, password=password)
