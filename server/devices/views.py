# SPDX-License-Identifier: GPL-2.0-or-later
"""Terminal pages (issue #6): the fleet, adding a terminal, a terminal's health, sync now
with a live progress bar, its command outbox, unassigned PINs and quarantined punches.

Everyone signed in may look. HR managers test connections, ask for syncs and map PINs;
administrators add terminals and place them in areas. Enrolment at a terminal's sensor
also needs the biometric permission. Every change goes through the services, which audit.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from server.attendance.forms import STATE_LABELS
from server.auth.models import Role
from server.db import utcnow
from server.devices import distribution, operations, services
from server.devices.forms import AddTerminalForm, AreaForm, AssignPinForm, EnrolForm
from server.devices.models import CommandState, PinMapping, Terminal
from server.employees.models import Employee
from server.errors import AppError, NotFoundError, ValidationError
from server.i18n import label, select_timezone
from server.organization.models import Area
from server.web import (
    ANY_ROLE,
    current_actor,
    department_scope,
    get_session,
    has_biometric_permission,
    in_department_scope,
    instance_key,
    require_biometric_permission,
    require_role,
)
from terminals.base import TerminalError

bp = Blueprint("terminals", __name__, url_prefix="/terminals")

OPERATORS = (Role.HR_MANAGER,)  # administrators always pass require_role
CONFIGURERS = (Role.ADMIN,)
OUTBOX_STATES = {
    "open": (CommandState.PENDING.value, CommandState.FAILED.value),
    "pending": (CommandState.PENDING.value,),
    "failed": (CommandState.FAILED.value,),
    "done": (CommandState.DONE.value,),
    "all": tuple(s.value for s in CommandState),
}


def _terminal(terminal_id: int) -> Terminal:
    terminal = get_session().get(Terminal, terminal_id)
    if terminal is None:
        raise NotFoundError(_("No such terminal."))
    return terminal


def _areas() -> list[Area]:
    return list(get_session().scalars(select(Area).order_by(Area.name, Area.code)))


def _area_choices() -> list[tuple[str, str]]:
    return [("", _("(no area: left as it is)"))] + [
        (str(a.id), f"{a.name} ({a.code})") for a in _areas()
    ]


def _scope_clause() -> Any:
    """Punches of people in the account's departments (None: every punch)."""
    scope = department_scope()
    if scope is None:
        return None
    from server.attendance.models import Punch

    return Punch.employee_id.in_(
        select(Employee.id).where(Employee.department_id.in_(sorted(scope)))
    )


def _employee_by_code(code: str) -> Employee | None:
    employee = get_session().scalar(
        select(Employee).where(Employee.employee_code == code, Employee.erased_at.is_(None))
    )
    if employee is None or not in_department_scope(employee.department_id):
        return None
    return employee


# --------------------------------------------------------------------------- the fleet
@bp.get("")
@require_role(*ANY_ROLE)
def index() -> ResponseReturnValue:
    db = get_session()
    fleet = operations.fleet(db)
    unrestricted = department_scope() is None
    return render_template(
        "terminals/index.html",
        fleet=fleet,
        areas={a.id: a for a in _areas()},
        pending_pins=len(operations.pending_pins(db)) if unrestricted else None,
        quarantined=operations.count_quarantined(db) if unrestricted else None,
    )


# --------------------------------------------------------------------------- add
def _render_new(form: AddTerminalForm, status: int = 200) -> ResponseReturnValue:
    form.comm_key.data = ""  # a comm key is never sent back to the browser
    return render_template("terminals/new.html", form=form), status


@bp.get("/new")
@require_role(*CONFIGURERS)
def new() -> ResponseReturnValue:
    form = AddTerminalForm(formdata=None)
    form.area.choices = _area_choices()
    form.timezone.data = select_timezone()
    return _render_new(form)


@bp.post("/new")
@require_role(*CONFIGURERS)
def create() -> ResponseReturnValue:
    form = AddTerminalForm()
    form.area.choices = _area_choices()
    if not form.validate_on_submit():
        return _render_new(form, 400)
    area_id = int(form.area.data) if (form.area.data or "").isdigit() else None
    if area_id is not None and get_session().get(Area, area_id) is None:
        form.area.errors = [_("No such area.")]
        return _render_new(form, 400)
    comm_key = form.comm_key_value()
    kek = instance_key()
    if comm_key and kek is None:
        form.comm_key.errors = [
            _("The instance key cannot be loaded, so a comm key cannot be stored safely.")
        ]
        return _render_new(form, 400)
    db = get_session()
    try:
        registration = services.register_terminal(
            db,
            address=form.address.data,
            actor=current_actor(),
            kek=kek,  # type: ignore[arg-type]  # only used to seal a comm key, checked above
            comm_key=comm_key,
            transport=form.transport.data,
            timezone=form.timezone.data,
            name=form.name.data or None,
            encoding=form.encoding.data,
        )
        if area_id is not None and registration.terminal.area_id != area_id:
            # Placing it (not only storing the area) queues its first reconciliation.
            distribution.set_terminal_area(
                db, registration.terminal.id, area_id, actor=current_actor()
            )
    except TerminalError as err:
        db.rollback()
        form.address.errors = [
            _("The terminal did not answer as expected: %(error)s", error=str(err))
        ]
        return _render_new(form, 400)
    except AppError as exc:
        db.rollback()
        field = exc.details.get("field") if exc.details else None
        target = getattr(form, str(field), None) if field in ("timezone", "name") else None
        (target or form.address).errors = [exc.message]
        return _render_new(form, 409 if exc.status == 409 else 400)
    db.commit()
    terminal = registration.terminal
    if registration.created:
        flash(_("Terminal %(serial)s added.", serial=terminal.serial_number), "success")
    else:
        flash(
            _(
                "Terminal %(serial)s was known at another address; Rollcall now follows it here.",
                serial=terminal.serial_number,
            ),
            "warning",
        )
    return redirect(url_for("terminals.show", terminal_id=terminal.id))


# --------------------------------------------------------------------------- one terminal
@bp.get("/<int:terminal_id>")
@require_role(*ANY_ROLE)
def show(terminal_id: int) -> ResponseReturnValue:
    db = get_session()
    terminal = _terminal(terminal_id)
    runs = operations.recent_runs(db, terminal.id)
    after = request.args.get("after", type=int)
    watching = "after" in request.args
    if not watching and runs and runs[0].status == "running":
        watching, after = True, runs[0].id - 1
    progress = operations.sync_progress(db, terminal.id, after_run=after if watching else None)
    unrestricted = department_scope() is None
    pins = operations.pending_pins(db, terminal.id) if unrestricted else []
    area_form = AreaForm(formdata=None)
    area_form.area.choices = _area_choices()
    area_form.area.data = str(terminal.area_id or "")
    return render_template(
        "terminals/show.html",
        terminal=terminal,
        online=services.is_online(terminal, utcnow()),
        clock_alert=operations.clock_alert(terminal),
        area=db.get(Area, terminal.area_id) if terminal.area_id else None,
        runs=runs,
        progress=progress,
        watching=watching,
        after=after,
        outbox=distribution.outbox_summary(db).get(terminal.id),
        commands=distribution.list_commands(db, terminal_id=terminal.id, limit=20),
        pins=pins,
        waiting=operations.waiting_punches(db, pins),
        quarantined=operations.quarantined(
            db, serial=terminal.serial_number, employee_clause=_scope_clause(), limit=20
        ),
        area_form=area_form,
        enrol_form=EnrolForm(formdata=None),
        may_enrol=has_biometric_permission(),
        assign_form=AssignPinForm(formdata=None),
        state_labels=STATE_LABELS,
    )


@bp.post("/<int:terminal_id>/test")
@require_role(*OPERATORS)
def test(terminal_id: int) -> ResponseReturnValue:
    db = get_session()
    _terminal(terminal_id)
    report = operations.check_connection(db, terminal_id, kek=instance_key(), actor=current_actor())
    db.commit()
    if report.ok:
        flash(
            _(
                "Connected in %(ms)s ms: serial %(serial)s, firmware %(firmware)s, "
                "%(records)s records, %(users)s users, clock off by %(offset)s s.",
                ms=report.elapsed_ms,
                serial=report.serial,
                firmware=report.firmware or "?",
                records=report.records,
                users=report.users,
                offset=report.clock_offset_s,
            ),
            "success",
        )
    else:
        flash(_("Connection failed: %(error)s", error=report.error), "error")
    return redirect(url_for("terminals.show", terminal_id=terminal_id))


@bp.post("/<int:terminal_id>/sync")
@require_role(*OPERATORS)
def sync(terminal_id: int) -> ResponseReturnValue:
    db = get_session()
    _terminal(terminal_id)
    try:
        before = operations.request_sync(db, terminal_id, actor=current_actor())
    except AppError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("terminals.show", terminal_id=terminal_id))
    db.commit()
    flash(_("Sync requested; the worker starts it within a few seconds."), "info")
    return redirect(
        url_for("terminals.show", terminal_id=terminal_id, after=before or 0, _anchor="sync")
    )


@bp.get("/<int:terminal_id>/sync/progress")
@require_role(*ANY_ROLE)
def sync_progress(terminal_id: int) -> ResponseReturnValue:
    db = get_session()
    _terminal(terminal_id)
    after = request.args.get("after", type=int)
    progress = operations.sync_progress(db, terminal_id, after_run=after)
    db.rollback()  # read only: end the transaction at once
    return jsonify(progress.to_json())


@bp.post("/<int:terminal_id>/area")
@require_role(*CONFIGURERS)
def place(terminal_id: int) -> ResponseReturnValue:
    form = AreaForm()
    form.area.choices = _area_choices()
    if not form.validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("terminals.show", terminal_id=terminal_id))
    raw = form.area.data or ""
    if raw and not raw.isdigit():
        flash(_("No such area."), "error")
        return redirect(url_for("terminals.show", terminal_id=terminal_id))
    db = get_session()
    _terminal(terminal_id)
    try:
        command = distribution.set_terminal_area(
            db, terminal_id, int(raw) if raw else None, actor=current_actor()
        )
    except AppError:
        db.rollback()
        flash(_("No such area."), "error")
        return redirect(url_for("terminals.show", terminal_id=terminal_id))
    db.commit()
    if command is not None:
        flash(_("Area saved; the terminal will be brought in line with it."), "success")
    else:
        flash(_("Area saved."), "success")
    return redirect(url_for("terminals.show", terminal_id=terminal_id))


@bp.post("/<int:terminal_id>/enrol")
@require_role(*OPERATORS)
def enrol(terminal_id: int) -> ResponseReturnValue:
    require_biometric_permission()
    form = EnrolForm()
    _terminal(terminal_id)
    back = redirect(url_for("terminals.show", terminal_id=terminal_id, _anchor="enrol"))
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return back
    employee = _employee_by_code(form.employee.data)
    if employee is None:
        flash(_("No employee has this code."), "error")
        return back
    db = get_session()
    try:
        distribution.queue_enrolment(
            db, employee.id, terminal_id, int(form.finger.data), actor=current_actor()
        )
    except (ValidationError, NotFoundError) as exc:
        db.rollback()
        reason = exc.details.get("reason") if exc.details else None
        if reason:
            flash(
                _(
                    "Enrolment refused by the consent gate (%(reason)s).",
                    reason=str(label("consent_refusal", reason)),
                ),
                "error",
            )
        else:
            flash(exc.message, "error")
        return back
    db.commit()
    flash(_("Enrolment queued: the terminal will ask for the finger."), "success")
    return back


# --------------------------------------------------------------------------- PINs
@bp.get("/pins")
@require_role(*ANY_ROLE)
def pins() -> ResponseReturnValue:
    db = get_session()
    unrestricted = department_scope() is None
    rows = operations.pending_pins(db) if unrestricted else []
    return render_template(
        "terminals/pins.html",
        pins=rows,
        waiting=operations.waiting_punches(db, rows),
        terminals={t.id: t for t in db.scalars(select(Terminal))},
        unrestricted=unrestricted,
        form=AssignPinForm(formdata=None),
    )


@bp.post("/pins/<int:mapping_id>/assign")
@require_role(*OPERATORS)
def assign(mapping_id: int) -> ResponseReturnValue:
    db = get_session()
    back_to = request.form.get("back") == "terminal"
    mapping = db.get(PinMapping, mapping_id)
    # People without a department are seen only by unrestricted accounts: so are PINs
    # that nobody holds yet.
    if mapping is None or department_scope() is not None:
        raise NotFoundError(_("No such PIN."))
    target = (
        url_for("terminals.show", terminal_id=mapping.terminal_id, _anchor="pins")
        if back_to and mapping.terminal_id
        else url_for("terminals.pins")
    )
    form = AssignPinForm()
    if not form.validate_on_submit():
        flash(_("Give the employee code."), "error")
        return redirect(target)
    employee = _employee_by_code(form.employee.data)
    if employee is None:
        flash(_("No employee has this code."), "error")
        return redirect(target)
    try:
        _mapping, attached = services.assign_pin(
            db, mapping_id, employee_id=employee.id, actor=current_actor()
        )
    except AppError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(target)
    db.commit()
    flash(
        _(
            "PIN %(pin)s is now %(code)s's; %(count)s punches attached.",
            pin=mapping.pin,
            code=employee.employee_code,
            count=attached,
        ),
        "success",
    )
    return redirect(target)


# --------------------------------------------------------------------------- outbox
@bp.get("/outbox")
@require_role(*ANY_ROLE)
def outbox() -> ResponseReturnValue:
    db = get_session()
    state = request.args.get("state", "open")
    if state not in OUTBOX_STATES:
        state = "open"
    terminal_id = request.args.get("terminal", type=int)
    commands = distribution.list_commands(
        db, terminal_id=terminal_id, states=OUTBOX_STATES[state], limit=500
    )
    employee_ids = sorted({c.employee_id for c in commands if c.employee_id})
    codes: dict[int, str] = {}
    if employee_ids:
        for e in db.scalars(select(Employee).where(Employee.id.in_(employee_ids))):
            if in_department_scope(e.department_id):
                codes[e.id] = e.employee_code
    return render_template(
        "terminals/outbox.html",
        commands=commands,
        codes=codes,
        state=state,
        states=list(OUTBOX_STATES),
        terminal_id=terminal_id,
        terminals={t.id: t for t in db.scalars(select(Terminal).order_by(Terminal.name))},
    )
