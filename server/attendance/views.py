# SPDX-License-Identifier: GPL-2.0-or-later
"""The punch browser, manual punches and exports (issue #6).

Everyone signed in may browse punches, within their department scope (a scoped account
sees no punch of a PIN nobody holds). HR managers enter punches by hand; HR accounts
export. Every export is in the operation log with its filters and row count.
"""

from __future__ import annotations

from collections.abc import Iterator
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
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from server.attendance import corrections, exporting, services
from server.attendance.forms import (
    CORRECTION_ACTION_LABELS,
    CORRECTION_REASON_LABELS,
    CORRECTION_STATUS_LABELS,
    REASON_LABELS,
    SOURCE_LABELS,
    STATE_LABELS,
    STATUS_LABELS,
    VERIFY_LABELS,
    CorrectionForm,
    ManualPunchForm,
)
from server.attendance.models import (
    CorrectionStatus,
    Punch,
    PunchCorrection,
    PunchSource,
    PunchStatus,
)
from server.attendance.services import Cursor, Direction, PunchFilters
from server.audit.services import record_event
from server.auth.models import Account, Role
from server.auth.scope import department_with_descendants
from server.db import utcnow
from server.devices.models import Terminal
from server.employees.models import Employee
from server.errors import AppError, NotFoundError, ValidationError
from server.i18n import select_timezone
from server.organization.models import Department
from server.web import (
    ANY_ROLE,
    current_account,
    current_actor,
    department_scope,
    department_scope_clause,
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
        # A restricted employee's data is stored, not shown (#7): not in the browser, as not
        # in exports, statistics or the API; their access package still holds it.
        exclude_restricted=True,
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
    named = form.filters.employee_ids if not form.errors else None
    restricted = bool(named) and (
        get_session().scalar(
            select(Employee.id)
            .where(Employee.id.in_(named or ()), Employee.restricted_at.is_not(None))
            .limit(1)
        )
        is not None
    )
    return render_template(
        "punches/index.html",
        form=form,
        page=page,
        kept=kept,
        restricted_named=restricted,
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
        target_field.errors = [*target_field.errors, exc.message]
        return _render_new(form, exc.status if exc.status != 404 else 400)
    db.commit()
    flash(_("Punch added."), "success")
    return redirect(url_for("punches.index", person=employee.employee_code, _anchor=f"p{punch.id}"))


# --------------------------------------------------------------------------- corrections
# A punch is never changed (#7): a correction is proposed with its reason and counts once
# someone else approves it. HR managers and the privacy officer (who answers rectification
# requests) propose and decide, within their department scope; everyone else reads.
CORRECTORS = (Role.HR_MANAGER, Role.PRIVACY_OFFICER)


def _scoped_punch(punch_id: int) -> tuple[Punch, Employee | None]:
    """The punch and its employee, or 404 when either is out of the account's scope."""
    db = get_session()
    punch = db.get(Punch, punch_id)
    employee = db.get(Employee, punch.employee_id) if punch and punch.employee_id else None
    if punch is None or (employee is None and department_scope() is not None):
        raise NotFoundError(_("No such punch."))
    if employee is not None and (
        employee.erased_at is not None or not in_department_scope(employee.department_id)
    ):
        raise NotFoundError(_("No such punch."))
    return punch, employee


def _can_correct() -> bool:
    account = current_account()
    return account is not None and Role(account.role) in {Role.ADMIN, *CORRECTORS}


def _render_detail(punch: Punch, employee: Employee | None, form: CorrectionForm) -> str:
    db = get_session()
    fixes = corrections.corrections_of(db, punch.id)
    people = {a.id: a for a in db.scalars(select(Account))}
    terminal = db.scalar(select(Terminal).where(Terminal.serial_number == punch.terminal_serial))
    row = services.punch_row(db, punch.id)
    return render_template(
        "punches/detail.html",
        punch=punch,
        row=row,
        employee=employee,
        terminal=terminal,
        fixes=fixes,
        people=people,
        form=form,
        can_correct=_can_correct() and employee is not None,
        me=current_actor().account_id,
        zone=ZoneInfo(punch.timezone) if punch.timezone else ZoneInfo(select_timezone()),
        state_labels=STATE_LABELS,
        verify_labels=VERIFY_LABELS,
        source_labels=SOURCE_LABELS,
        status_labels=STATUS_LABELS,
        reason_labels=CORRECTION_REASON_LABELS,
        action_labels=CORRECTION_ACTION_LABELS,
        fix_status_labels=CORRECTION_STATUS_LABELS,
    )


@bp.get("/<int:punch_id>")
@require_role(*ANY_ROLE)
def detail(punch_id: int) -> ResponseReturnValue:
    """One punch with its corrections (their notes are personal: the view is logged)."""
    punch, employee = _scoped_punch(punch_id)
    db = get_session()
    form = CorrectionForm(formdata=None)
    if employee is not None:
        record_event(
            db,
            "punch.viewed",
            actor=current_actor(),
            object_type="punch",
            object_id=punch.id,
            subject_employee_id=employee.id,
        )
    page = _render_detail(punch, employee, form)
    db.commit()
    return page


@bp.post("/<int:punch_id>/corrections")
@require_role(*CORRECTORS)
def propose(punch_id: int) -> ResponseReturnValue:
    punch, employee = _scoped_punch(punch_id)
    form = CorrectionForm()
    if employee is None:
        flash(_("Map the punch's PIN to an employee before correcting it."), "error")
        return redirect(url_for("punches.detail", punch_id=punch.id))
    if not form.validate_on_submit():
        return _render_detail(punch, employee, form), 400
    db = get_session()
    occurred = None
    if form.day.data and form.at.data:
        zone = ZoneInfo(punch.timezone) if punch.timezone else ZoneInfo(select_timezone())
        occurred = datetime.combine(form.day.data, form.at.data, tzinfo=zone)
    try:
        corrections.propose_correction(
            db,
            punch.id,
            action=form.action.data,
            reason=form.reason.data,
            occurred_at=occurred,
            punch_state=int(form.state.data) if form.state.data else None,
            note=form.note.data,
            request_id=_rectification_request(form.request_id.data, employee.id),
            actor=current_actor(),
        )
    except AppError as exc:
        db.rollback()
        field = exc.details.get("field") if exc.details else None
        target = {
            "occurred_at": form.at,
            "punch_state": form.state,
            "note": form.note,
            "request_id": form.request_id,
        }.get(str(field), form.action)
        target.errors = [*target.errors, exc.message]
        return _render_detail(punch, employee, form), 400
    db.commit()
    flash(_("Correction proposed. It counts once someone else approves it."), "success")
    return redirect(url_for("punches.detail", punch_id=punch.id))


def _rectification_request(number: int | None, employee_id: int) -> int | None:
    """The rectification request a correction answers: the employee's own, and open."""
    if number is None:
        return None
    from server.rights.models import SubjectRequest

    found = get_session().get(SubjectRequest, number)
    if found is None or found.employee_id != employee_id or found.kind != "rectification":
        raise ValidationError(
            _("No rectification request of this employee has that number."),
            details={"field": "request_id"},
        )
    return found.id


@bp.get("/corrections")
@require_role(*ANY_ROLE)
def pending() -> ResponseReturnValue:
    """Corrections waiting for a decision, oldest first, within the account's scope."""
    db = get_session()
    query = (
        select(PunchCorrection, Punch, Employee)
        .join(Punch, Punch.id == PunchCorrection.punch_id)
        .join(Employee, Employee.id == PunchCorrection.employee_id)
        .where(
            PunchCorrection.status == CorrectionStatus.PROPOSED.value,
            Employee.erased_at.is_(None),
            department_scope_clause(Employee.department_id),
        )
        .order_by(PunchCorrection.id)
        .limit(PENDING_SHOWN)
    )
    rows = db.execute(query).all()
    people = {a.id: a for a in db.scalars(select(Account))}
    return render_template(
        "punches/corrections.html",
        rows=rows,
        people=people,
        can_correct=_can_correct(),
        me=current_actor().account_id,
        shown=PENDING_SHOWN,
        state_labels=STATE_LABELS,
        reason_labels=CORRECTION_REASON_LABELS,
        action_labels=CORRECTION_ACTION_LABELS,
    )


PENDING_SHOWN = 500


def _decide(correction_id: int, approve: bool) -> ResponseReturnValue:
    db = get_session()
    fix = db.get(PunchCorrection, correction_id)
    if fix is None:
        raise NotFoundError(_("No such correction."))
    _scoped_punch(fix.punch_id)
    decide = corrections.approve_correction if approve else corrections.reject_correction
    try:
        decide(db, fix.id, actor=current_actor())
    except AppError as exc:
        db.rollback()
        flash(exc.message, "error")
    else:
        db.commit()
        flash(_("Correction approved.") if approve else _("Correction rejected."), "success")
    back = request.form.get("next", "")
    if back == "pending":
        return redirect(url_for("punches.pending"))
    return redirect(url_for("punches.detail", punch_id=fix.punch_id))


@bp.post("/corrections/<int:correction_id>/approve")
@require_role(*CORRECTORS)
def approve(correction_id: int) -> ResponseReturnValue:
    return _decide(correction_id, approve=True)


@bp.post("/corrections/<int:correction_id>/reject")
@require_role(*CORRECTORS)
def reject(correction_id: int) -> ResponseReturnValue:
    return _decide(correction_id, approve=False)


# --------------------------------------------------------------------------- exports
def _closing(db: Session, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """A streamed body that ends its session when the download ends or is cut short: the
    request's teardown may have run before the last chunk."""
    try:
        yield from chunks
    finally:
        db.rollback()
        db.close()


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
        body: Any = stream_with_context(
            _closing(db, exporting.csv_chunks(services.EXPORT_HEADER, rows))
        )
        return Response(body, mimetype="text/csv; charset=utf-8", headers=headers)
    handle = exporting.write_xlsx(services.EXPORT_HEADER, rows, title="punches")
    db.rollback()
    headers["Content-Disposition"] = f'attachment; filename="punches-{stamp}.xlsx"'
    return Response(
        exporting.file_chunks(handle),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=headers,
    )
