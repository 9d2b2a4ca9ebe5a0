# SPDX-License-Identifier: GPL-2.0-or-later
"""Department tree and areas pages (issue #6).

Everyone signed in may read both trees. Changing them is for administrators and for HR
managers whose scope is not limited: a scoped manager moving departments could widen their
own scope.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from server.auth.models import Role
from server.enrolment.models import BiometricTemplate
from server.errors import AppError, PermissionDeniedError
from server.forms import options
from server.organization import services
from server.organization.forms import NodeForm
from server.web import (
    ANY_ROLE,
    current_actor,
    department_scope,
    get_session,
    require_biometric_permission,
    require_role,
)

bp = Blueprint("organization", __name__)

EDITORS = (Role.HR_MANAGER,)  # administrators always pass require_role


def _require_unrestricted() -> None:
    if department_scope() is not None:
        raise PermissionDeniedError(
            _("Your account is limited to some departments; ask an administrator.")
        )


def _parent_choices(nodes: list[Any], exclude: set[int] | None = None) -> list[tuple[str, str]]:
    exclude = exclude or set()
    choices = [("", _("(top level)"))]
    for node in services.flatten(services.build_tree(nodes)):
        if node.item.id not in exclude:
            label = "\u2003" * node.depth + f"{node.item.name} ({node.item.code})"
            choices.append((str(node.item.id), label))
    return choices


def _subtree(nodes: list[Any], root_id: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for n in nodes:
        if n.parent_id is not None:
            children.setdefault(n.parent_id, []).append(n.id)
    out: set[int] = set()
    todo = [root_id]
    while todo:
        current = todo.pop()
        if current not in out:
            out.add(current)
            todo.extend(children.get(current, ()))
    return out


def _field_error(form: NodeForm, exc: AppError) -> None:
    name = exc.details.get("field") if exc.details else None
    field = getattr(form, name, None) if isinstance(name, str) else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, exc.message]
    else:
        form.form_errors.append(exc.message)


# --------------------------------------------------------------------------- departments
def _departments_page(form: NodeForm, status: int = 200) -> ResponseReturnValue:
    db = get_session()
    departments = services.list_departments(db)
    scope = department_scope()
    # The tree is the organization's; how many people work where is shown only within
    # the account's departments.
    counts = {d: n for d, n in services.employee_counts(db).items() if scope is None or d in scope}
    return render_template(
        "organization/departments.html",
        tree=services.build_tree(departments),
        counts=counts,
        form=form,
        scope=scope,
    ), status


@bp.get("/departments")
@require_role(*ANY_ROLE)
def departments() -> ResponseReturnValue:
    form = NodeForm()
    form.parent_id.choices = options(_parent_choices(services.list_departments(get_session())))
    return _departments_page(form)


@bp.post("/departments")
@require_role(*EDITORS)
def department_create() -> ResponseReturnValue:
    _require_unrestricted()
    db = get_session()
    form = NodeForm()
    form.parent_id.choices = options(_parent_choices(services.list_departments(db)))
    if form.validate_on_submit():
        try:
            department = services.create_department(
                db,
                code=form.code.data,
                name=form.name.data,
                parent_id=form.parent(),
                actor=current_actor(),
            )
        except AppError as exc:
            db.rollback()
            _field_error(form, exc)
        else:
            db.commit()
            flash(_("Department %(name)s created.", name=department.name), "success")
            return redirect(url_for("organization.departments"))
    return _departments_page(form, 422)


@bp.route("/departments/<int:department_id>", methods=["GET", "POST"])
@require_role(*EDITORS)
def department_edit(department_id: int) -> ResponseReturnValue:
    _require_unrestricted()
    db = get_session()
    department = services.get_department(db, department_id)
    every = services.list_departments(db)
    form = NodeForm(obj=department if request.method == "GET" else None)
    form.parent_id.choices = options(_parent_choices(every, _subtree(every, department.id)))
    if request.method == "GET":
        form.parent_id.data = str(department.parent_id or "")
    elif form.validate_on_submit():
        try:
            services.update_department(
                db,
                department.id,
                code=form.code.data,
                name=form.name.data,
                parent_id=form.parent(),
                actor=current_actor(),
            )
        except AppError as exc:
            db.rollback()
            _field_error(form, exc)
        else:
            db.commit()
            flash(_("Department saved."), "success")
            return redirect(url_for("organization.departments"))
    return render_template(
        "organization/department_edit.html",
        department=department,
        form=form,
        use=services.department_use(db, department.id),
    ), (200 if request.method == "GET" else 422)


@bp.post("/departments/<int:department_id>/delete")
@require_role(*EDITORS)
def department_delete(department_id: int) -> ResponseReturnValue:
    _require_unrestricted()
    db = get_session()
    try:
        services.delete_department(db, department_id, actor=current_actor())
    except AppError as exc:
        db.rollback()
        if exc.status == 404:
            raise
        flash(exc.message, "error")
        return redirect(url_for("organization.department_edit", department_id=department_id))
    db.commit()
    flash(_("Department deleted."), "success")
    return redirect(url_for("organization.departments"))


# --------------------------------------------------------------------------- areas
def _areas_page(form: NodeForm, status: int = 200) -> ResponseReturnValue:
    db = get_session()
    people, terminals = services.area_counts(db)
    return render_template(
        "organization/areas.html",
        tree=services.build_tree(services.list_areas(db)),
        people=people,
        terminals=terminals,
        form=form,
        scope=department_scope(),
    ), status


@bp.get("/areas")
@require_role(*ANY_ROLE)
def areas() -> ResponseReturnValue:
    form = NodeForm()
    form.parent_id.choices = options(_parent_choices(services.list_areas(get_session())))
    return _areas_page(form)


@bp.post("/areas")
@require_role(*EDITORS)
def area_create() -> ResponseReturnValue:
    _require_unrestricted()
    db = get_session()
    form = NodeForm()
    form.parent_id.choices = options(_parent_choices(services.list_areas(db)))
    if form.validate_on_submit():
        try:
            area = services.create_area(
                db,
                code=form.code.data,
                name=form.name.data,
                parent_id=form.parent(),
                actor=current_actor(),
            )
        except AppError as exc:
            db.rollback()
            _field_error(form, exc)
        else:
            db.commit()
            flash(_("Area %(name)s created.", name=area.name), "success")
            return redirect(url_for("organization.areas"))
    return _areas_page(form, 422)


@bp.route("/areas/<int:area_id>", methods=["GET", "POST"])
@require_role(*EDITORS)
def area_edit(area_id: int) -> ResponseReturnValue:
    _require_unrestricted()
    db = get_session()
    area = services.get_area(db, area_id)
    every = services.list_areas(db)
    form = NodeForm(obj=area if request.method == "GET" else None)
    form.parent_id.choices = options(_parent_choices(every, _subtree(every, area.id)))
    if request.method == "GET":
        form.parent_id.data = str(area.parent_id or "")
    elif form.validate_on_submit():
        if form.parent() != area.parent_id and db.scalar(select(BiometricTemplate.id).limit(1)):
            # A move changes which terminals hold the fingerprints or faces of everyone in
            # the areas below: a distribution, a biometric action (#6 review).
            require_biometric_permission()
        try:
            services.update_area(
                db,
                area.id,
                code=form.code.data,
                name=form.name.data,
                parent_id=form.parent(),
                actor=current_actor(),
            )
        except AppError as exc:
            db.rollback()
            _field_error(form, exc)
        else:
            db.commit()
            flash(_("Area saved."), "success")
            return redirect(url_for("organization.areas"))
    return render_template("organization/area_edit.html", area=area, form=form), (
        200 if request.method == "GET" else 422
    )
