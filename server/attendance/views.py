# SPDX-License-Identifier: GPL-2.0-or-later
"""The punch browser, manual punches and exports (issue #6).

Everyone signed in may browse punches, within their department scope (a scoped account
sees no punch of a PIN nobody holds). HR managers enter punches by hand; HR accounts
export. Every export is in the operation log with its filters and row count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from server.attendance import exporting, services
from server.attendance.forms import (
    REASON_LABELS,
    SOURCE_LABELS,
    STATE_LABELS,
    STATUS_LABELS,
    VERIFY_LABELS,
    ManualPunchForm,
)
from server.attendance.models import PunchSource, PunchStatus
from server.attendance.services import Cursor, Direction, PunchFilters
from server.auth.models import Role
from server.auth.scope import department_with_descendants
from server.db import utcnow
from server.devices.models import Terminal
from server.employees.models import Employee
from server.errors import AppError, ValidationError
from server.i18n import select_timezone
from server.organization.models import Department
from server.web import (
    ANY_ROLE,
    current_actor,
    department_scope,
    get_session,
    in_department_scope,
    require_role,
)

bp = Blueprint("punches", __name__, url_prefix="/punches")

EDITORS = (Role.HR_MANAGER,)  # administrators always pass require_role
EXPORTERS = (Role.HR_MANAGER, Role.HR_VIEWER)
FILTER_KEYS = ("person", "department", "terminal", "from", "to", "source", "status")


@dataclass
class FilterForm:
    """The filters as typed (to show them back) and as resolved (to query with)."""

    values: dict[str, str]
    filters: PunchFilters
    errors: dict[str, str]


def _parse_day(raw: str, field: str, errors: dict[str, str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[field] = _("Give a date as YYYY-MM-DD.")
        return None


def read_filters(args: MultiDict[str, str]) -> FilterForm:
    """Validate every filter; a bad one is reported and the page shows no rows."""
    db = get_session()
    scope = department_scope()
    values = {k: (args.get(k) or "").strip()[:100] for k in FILTER_KEYS}
    errors: dict[str, str] = {}
    employee_ids: tuple[int, ...] | None = None
    if values["person"]:
        try:
            employee_ids = services.find_people(db, values["person"], scope=scope)
        except ValidationError as exc:
            errors["person"] = exc.message
    department_ids = None
    if values["department"]:
        dept = (
            db.get(Department, int(values["department"]))
            if values["department"].isdigit()
            else None
        )
        if dept is None or (scope is not None and dept.id not in scope):
            errors["department"] = _("No such department.")
        else:
            department_ids = department_with_descendants(db, [dept.id])
    serial = values["terminal"] or None
    start_day = _parse_day(values["from"], "from", errors)
    end_day = _parse_day(values["to"], "to", errors)
    start = end = None
    try:
        start, end = services.day_range(start_day, end_day, ZoneInfo(select_timezone()))
    except ValidationError:
        errors["to"] = _("The end date is before the start date.")
    source = values["source"] or None
    if source is not None and source not in {s.value for s in PunchSource}:
        errors["source"] = _("No such source.")
    status = values["status"] or None
    if status is not None and status not in {s.value for s in PunchStatus}:
        errors["status"] = _("No such status.")
    filters = PunchFilters(
        employee_ids=employee_ids,
        department_ids=department_ids,
        terminal_serial=serial,
        start=start,
        end=end,
        source=source,
        status=status,
        scope=scope,
    )
    return FilterForm(values, filters, errors)


def _department_choices() -> list[tuple[int, str]]:
    """Departments in scope, as an indented tree."""
    scope = department_scope()
    rows = list(get_session().scalars(select(Department)))
    children: dict[int | None, list[Department]] = {}
    known = {d.id for d in rows}
    for d in rows:
        parent = d.parent_id if d.parent_id in known else None
        children.setdefault(parent, []).append(d)
    out: list[tuple[int, str]] = []

    def walk(parent: int | None, depth: int) -> None:
        for d in sorted(children.get(parent, []), key=lambda x: (x.name.casefold(), x.code)):
            if scope is None or d.id in scope:
                out.append((d.id, "\u2003" * depth + d.name))
            walk(d.id, depth + 1)

    walk(None, 0)
    return out


def _terminal_choices() -> list[tuple[str, str]]:
    terminals = get_session().scalars(select(Terminal).order_by(Terminal.name))
    return [(t.serial_number, f"{t.name} ({t.serial_number})") for t in terminals] + [
        (services.MANUAL_SERIAL, _("Entered by hand"))
    ]


def _kept(values: dict[str, str]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v}


@bp.get("")
@require_role(*ANY_ROLE)
def index() -> ResponseReturnValue:
    form = read_filters(request.args)
    page = None
    status = 200
    if form.errors:
        status = 400
    else:
        cursor_text = request.args.get("older") or request.args.get("newer")
        direction = Direction.NEWER if request.args.get("newer") else Direction.OLDER
        try:
            cursor = Cursor.decode(cursor_text) if cursor_text else None
        except ValidationError as exc:
            form.errors["cursor"] = exc.message
            return _render_index(form, None), 400
        page = services.browse_punches(
            get_session(),
            form.filters,
            cursor=cursor,
            direction=direction,
            limit=services.PAGE_SIZE,
        )
    return _render_index(form, page), status


def _render_index(form: FilterForm, page: services.PunchPage | None) -> str:
    kept = _kept(form.values)
    return render_template(
        "punches/index.html",
        form=form,
        page=page,
        kept=kept,
        departments=_department_choices(),
        terminals=_terminal_choices(),
        state_labels=STATE_LABELS,
        verify_labels=VERIFY_LABELS,
        source_labels=SOURCE_LABELS,
        status_labels=STATUS_LABELS,
        reason_labels=REASON_LABELS,
        org_zone=select_timezone(),
    )


# --------------------------------------------------------------------------- manual punch
def _render_new(form: ManualPunchForm, status: int = 200) -> ResponseReturnValue:
    return render_template("punches/new.html", form=form, zone=select_timezone()), status


@bp.get("/new")
@require_role(*EDITORS)
def new() -> ResponseReturnValue:
    form = ManualPunchForm(formdata=None)
    form.employee.data = request.args.get("employee", "")[:32]
    form.day.data = datetime.now(ZoneInfo(select_timezone())).date()
    return _render_new(form)


@bp.post("/new")
@require_role(*EDITORS)
def create() -> ResponseReturnValue:
    form = ManualPunchForm()
    if not form.validate_on_submit():
        return _render_new(form, 400)
    db = get_session()
    employee = db.scalar(
        select(Employee).where(
            Employee.employee_code == form.employee.data, Employee.erased_at.is_(None)
        )
    )
    if employee is None or not in_department_scope(employee.department_id):
        form.employee.errors = [_("No employee has this code.")]
        return _render_new(form, 400)
    zone_name = select_timezone()
    at = datetime.combine(form.day.data, form.at.data, tzinfo=ZoneInfo(zone_name))
    try:
        punch = services.enter_manual_punch(
            db,
            employee_id=employee.id,
            occurred_at=at,
            punch_state=int(form.state.data),
            reason=form.reason.data,
            note=form.note.data,
            timezone=zone_name,
            actor=current_actor(),
        )
    except AppError as exc:
        db.rollback()
        field = exc.details.get("field") if exc.details else None
        target = {"time": form.at, "state": form.state, "reason": form.reason, "note": form.note}
        target_field = target.get(str(field), form.employee)
        target_field.errors = [*target_field.errors, _translated(exc)]
        return _render_new(form, exc.status if exc.status != 404 else 400)
    db.commit()
    flash(_("Punch added."), "success")
    return redirect(url_for("punches.index", person=employee.employee_code, _anchor=f"p{punch.id}"))


def _translated(exc: AppError) -> str:
    """The service's message in the interface language (services speak English)."""
    messages = {
        "A punch cannot be entered in the future.": _("A punch cannot be entered in the future."),
        "Say why in the note when the reason is 'other'.": _(
            "Say why in the note when the reason is 'other'."
        ),
        "This employee already has a manual punch at that second.": _(
            "This employee already has a manual punch at that second."
        ),
        "Processing of this employee's data is restricted; no punch can be added.": _(
            "Processing of this employee's data is restricted; no punch can be added."
        ),
        "Choose a reason.": _("Choose a reason."),
    }
    return str(messages.get(exc.message, exc.message))


# --------------------------------------------------------------------------- exports
@bp.post("/export")
@require_role(*EXPORTERS)
def export() -> ResponseReturnValue:
    form = read_filters(request.form)
    if form.errors:
        flash(_("Fix the filters before exporting."), "error")
        return redirect(url_for("punches.index", **_kept(form.values)))
    db = get_session()
    try:
        plan = services.plan_export(
            db, form.filters, fmt=request.form.get("format", ""), actor=current_actor()
        )
    except ValidationError as exc:
        db.rollback()
        if exc.details.get("rows"):
            flash(
                _(
                    "%(rows)s rows do not fit in one spreadsheet: narrow the filters or "
                    "export CSV.",
                    rows=exc.details["rows"],
                ),
                "error",
            )
        else:
            flash(_("Export as CSV or XLSX."), "error")
        return redirect(url_for("punches.index", **_kept(form.values)))
    db.commit()  # the export is logged before a byte of it leaves
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    rows = services.export_rows(db, plan, between_batches=db.rollback)
    headers = {"X-Export-Rows": str(plan.rows)}
    if plan.format is services.ExportFormat.CSV:
        headers["Content-Disposition"] = f'attachment; filename="punches-{stamp}.csv"'
        # The context (and the request's session) lives while the body is written.
        body: Any = stream_with_context(exporting.csv_chunks(services.EXPORT_HEADER, rows))
        return Response(body, mimetype="text/csv; charset=utf-8", headers=headers)
    handle = exporting.write_xlsx(services.EXPORT_HEADER, rows, title="punches")
    db.rollback()
    headers["Content-Disposition"] = f'attachment; filename="punches-{stamp}.xlsx"'
    return Response(
        exporting.file_chunks(handle),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=headers,
    )
