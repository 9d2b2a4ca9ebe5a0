# SPDX-License-Identifier: GPL-2.0-or-later
"""Employee pages: list, detail, create, edit, terminate, areas, CSV import (issue #6).

Everyone signed in may read people (HR accounts only within their department scope; an
employee outside it is a 404); HR managers and administrators change them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from server.auth.models import Role
from server.auth.scope import department_with_descendants
from server.devices import distribution
from server.employees import importing, services
from server.employees.forms import (
    AreasForm,
    EmployeeForm,
    ImportConfirmForm,
    ImportForm,
    TerminateForm,
)
from server.employees.models import Employee, EmployeeStatus, employee_areas
from server.enrolment.services import template_summary
from server.errors import AppError, ValidationError
from server.forms import options
from server.organization import services as organization
from server.organization.models import Area, Department
from server.privacy.services import consent_status
from server.web import (
    ANY_ROLE,
    current_actor,
    department_scope,
    get_session,
    require_biometric_permission,
    require_department_scope,
    require_role,
)

bp = Blueprint("employees", __name__, url_prefix="/employees")

EDITORS = (Role.HR_MANAGER,)  # administrators always pass require_role
STATUSES = {
    EmployeeStatus.ACTIVE.value: _l("Active"),
    EmployeeStatus.SUSPENDED.value: _l("Suspended"),
    EmployeeStatus.TERMINATED.value: _l("Terminated"),
}


def _scoped_employee(employee_id: int) -> Employee:
    employee = services.get_employee(get_session(), employee_id)
    require_department_scope(employee.department_id)
    return employee


def _department_choices(*, blank: bool = True) -> list[tuple[str, str]]:
    """Departments the signed-in account may place people in, indented as a tree."""
    scope = department_scope()
    nodes = organization.flatten(
        organization.build_tree(organization.list_departments(get_session()))
    )
    choices = [("", _("(no department)"))] if blank and scope is None else []
    for node in nodes:
        if scope is None or node.item.id in scope:
            label = "\u2003" * node.depth + f"{node.item.name} ({node.item.code})"
            choices.append((str(node.item.id), label))
    return choices


def _area_choices() -> list[tuple[int, str]]:
    nodes = organization.flatten(organization.build_tree(organization.list_areas(get_session())))
    return [(n.item.id, "\u2003" * n.depth + f"{n.item.name} ({n.item.code})") for n in nodes]


def _field_error(form: Any, exc: AppError) -> None:
    """Show a service's refusal beside its field, or at the top of the form."""
    name = exc.details.get("field") if exc.details else None
    field = getattr(form, name, None) if isinstance(name, str) else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, exc.message]
    else:
        form.form_errors.append(exc.message)


# --------------------------------------------------------------------------- list
@bp.get("")
@require_role(*ANY_ROLE)
def index() -> ResponseReturnValue:
    db = get_session()
    args = request.args
    query = (args.get("q") or "").strip()[:100]
    status = args.get("status", "active")
    status = status if status in STATUSES or status == "" else "active"
    department_id = args.get("department", type=int)
    area_id = args.get("area", type=int)
    scope = department_scope()
    department_ids = (
        department_with_descendants(db, [department_id]) if department_id is not None else None
    )
    page = services.list_employees(
        db,
        query=query or None,
        department_ids=department_ids,
        area_id=area_id,
        status=status or None,
        scope=scope,
        after=args.get("after") or None,
        before=args.get("before") or None,
    )
    departments = {d.id: d for d in organization.list_departments(db)}
    filters = {"q": query, "status": status, "department": department_id, "area": area_id}
    kept = {k: v for k, v in filters.items() if v not in (None, "")}
    if status == "":
        kept["status"] = ""
    return render_template(
        "employees/index.html",
        page=page,
        filters=filters,
        kept=kept,
        statuses=STATUSES,
        departments=departments,
        department_choices=_department_choices(blank=False),
        area_choices=_area_choices(),
    )


# --------------------------------------------------------------------------- detail
@bp.get("/<int:employee_id>")
@require_role(*ANY_ROLE)
def show(employee_id: int) -> ResponseReturnValue:
    db = get_session()
    employee = _scoped_employee(employee_id)
    today = date.today()
    areas = list(
        db.scalars(
            select(Area)
            .join(employee_areas, employee_areas.c.area_id == Area.id)
            .where(employee_areas.c.employee_id == employee.id)
            .order_by(Area.name)
        )
    )
    context = {
        "employee": employee,
        "department": db.get(Department, employee.department_id)
        if employee.department_id
        else None,
        "areas": areas,
        "punches": services.recent_punches(db, employee.id),
        "consent": consent_status(db, employee.id, on=today),
        "templates": template_summary(db, employee.id),
        "placements": services.terminal_placements(db, employee),
        "statuses": STATUSES,
        "terminate_form": TerminateForm(),
    }
    services.record_view(db, employee, actor=current_actor())
    db.commit()
    return render_template("employees/show.html", **context)


# --------------------------------------------------------------------------- create, edit
@bp.route("/new", methods=["GET", "POST"])
@require_role(*EDITORS)
def new() -> ResponseReturnValue:
    form = EmployeeForm(departments=_department_choices())
    if form.validate_on_submit():
        db = get_session()
        try:
            employee = services.create_employee(db, form.values(), actor=current_actor())
        except AppError as exc:
            db.rollback()
            _field_error(form, exc)
        else:
            db.commit()
            flash(_("Employee %(code)s added.", code=employee.employee_code), "success")
            return redirect(url_for("employees.show", employee_id=employee.id))
    status = 422 if request.method == "POST" else 200
    return render_template("employees/form.html", form=form, employee=None), status


@bp.route("/<int:employee_id>/edit", methods=["GET", "POST"])
@require_role(*EDITORS)
def edit(employee_id: int) -> ResponseReturnValue:
    employee = _scoped_employee(employee_id)
    choices = _department_choices()
    if request.method == "GET":
        form = EmployeeForm(obj=employee, departments=choices)
        form.department_id.data = str(employee.department_id or "")
        form.device_privilege.data = str(employee.device_privilege)
        form.locale.data = employee.locale or ""
        # The form shows contact details and the date of birth: a view like the detail
        # page's, in the operation log (#6 review).
        db = get_session()
        services.record_view(db, employee, actor=current_actor())
        db.commit()
    else:
        form = EmployeeForm(departments=choices)
    if form.validate_on_submit():
        db = get_session()
        try:
            services.update_employee(db, employee.id, form.values(), actor=current_actor())
        except AppError as exc:
            db.rollback()
            _field_error(form, exc)
        else:
            db.commit()
            flash(_("Changes saved."), "success")
            return redirect(url_for("employees.show", employee_id=employee.id))
    status = 422 if request.method == "POST" else 200
    return render_template("employees/form.html", form=form, employee=employee), status


@bp.post("/<int:employee_id>/terminate")
@require_role(*EDITORS)
def terminate(employee_id: int) -> ResponseReturnValue:
    employee = _scoped_employee(employee_id)
    form = TerminateForm()
    if not form.validate_on_submit():
        flash(_("Give the last day of employment."), "error")
        return redirect(url_for("employees.show", employee_id=employee.id))
    db = get_session()
    try:
        services.terminate_employee(db, employee.id, on=form.on.data, actor=current_actor())
    except AppError as exc:
        db.rollback()
        flash(exc.message, "error")
    else:
        db.commit()
        flash(_("Employment ended; the employee is being removed from terminals."), "success")
    return redirect(url_for("employees.show", employee_id=employee.id))


@bp.route("/<int:employee_id>/areas", methods=["GET", "POST"])
@require_role(*EDITORS)
def areas(employee_id: int) -> ResponseReturnValue:
    employee = _scoped_employee(employee_id)
    db = get_session()
    form = AreasForm()
    form.area_ids.choices = options(_area_choices())
    if request.method == "GET":
        form.area_ids.data = list(
            db.scalars(
                select(employee_areas.c.area_id).where(employee_areas.c.employee_id == employee.id)
            )
        )
        services.record_view(db, employee, actor=current_actor())  # a view of them (#6 review)
        db.commit()
    if form.validate_on_submit():
        if template_summary(db, employee.id).count:
            # Terminals of the new areas receive the employee's fingerprints or face, and
            # those of areas left delete them: a biometric action (issue #6).
            require_biometric_permission()
        try:
            puts, deletes = distribution.set_employee_areas(
                db, employee.id, form.area_ids.data or [], actor=current_actor()
            )
        except AppError as exc:
            db.rollback()
            _field_error(form, exc)
        else:
            db.commit()
            flash(
                _(
                    "Areas saved: %(added)d terminals to add the employee to, %(removed)d to "
                    "remove them from.",
                    added=len(puts),
                    removed=len(deletes),
                ),
                "success",
            )
            return redirect(url_for("employees.show", employee_id=employee.id))
    status = 422 if request.method == "POST" else 200
    return render_template("employees/areas.html", form=form, employee=employee), status


# --------------------------------------------------------------------------- CSV import
@bp.route("/import", methods=["GET", "POST"])
@require_role(*EDITORS)
def import_file() -> ResponseReturnValue:
    """Upload shows a preview with every row's errors; nothing is written here."""
    form = ImportForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template(
            "employees/import.html", form=form, columns=importing.COLUMNS
        ), status
    try:
        text = importing.decode(form.file.data.read(importing.MAX_BYTES + 1))
    except ValidationError as exc:
        form.file.errors = [exc.message]
        return render_template("employees/import.html", form=form, columns=importing.COLUMNS), 422
    plan = importing.plan_import(get_session(), text, scope=department_scope())
    confirm = ImportConfirmForm(formdata=None, content=text)
    return render_template("employees/import_preview.html", plan=plan, confirm=confirm), (
        200 if plan.valid else 422
    )


@bp.post("/import/confirm")
@require_role(*EDITORS)
def import_confirm() -> ResponseReturnValue:
    form = ImportConfirmForm()
    if not form.validate_on_submit():
        flash(_("The import form expired; upload the file again."), "error")
        return redirect(url_for("employees.import_file"))
    db = get_session()
    scope = department_scope()
    try:
        created = importing.apply_import(db, form.content.data, scope=scope, actor=current_actor())
    except AppError:
        db.rollback()
        plan = importing.plan_import(db, form.content.data, scope=scope)
        return render_template("employees/import_preview.html", plan=plan, confirm=form), 422
    db.commit()
    flash(_("%(n)d employees imported.", n=len(created)), "success")
    return redirect(url_for("employees.index"))
