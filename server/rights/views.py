# SPDX-License-Identifier: GPL-2.0-or-later
"""Web pages of data-subject rights (#7): the request register, each request's actions
(identity, extension, refusal, access package, restriction, erasure with its terminals), and
fetching an expiring download. Privacy officers and administrators act; auditors read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.audit.services import Actor
from server.auth.models import Account, Role
from server.db import utcnow
from server.employees.models import Employee
from server.errors import AppError, ValidationError
from server.rights import erasure, profiles
from server.rights import services as register
from server.rights.access import build_access_package
from server.rights.downloads import create_download, fetch_download
from server.rights.models import (
    Download,
    ErasureRun,
    IdentityMethod,
    RefusalReason,
    RequestKind,
    RequestStatus,
    SubjectRequest,
)
from server.rights.restriction import lift_restriction, restrict_employee
from server.web import current_actor, get_session, require_role, settings

bp = Blueprint("rights", __name__)

# How a terminal Rollcall cannot reach was cleared, as a privacy officer attests it.
HAND_LABELS = {
    "deleted_at_terminal": _l("The user was deleted in the terminal's own menu"),
    "terminal_reset": _l("The terminal was reset to its factory settings"),
    "terminal_destroyed": _l("The terminal was destroyed or its storage wiped"),
}

ACT = (Role.PRIVACY_OFFICER,)
READ = (Role.PRIVACY_OFFICER, Role.AUDITOR)

KIND_LABELS = {
    RequestKind.ACCESS: _l("Access"),
    RequestKind.COPY: _l("Copy (portability)"),
    RequestKind.RECTIFICATION: _l("Rectification"),
    RequestKind.ERASURE: _l("Erasure"),
    RequestKind.RESTRICTION: _l("Restriction"),
    RequestKind.CONSENT_WITHDRAWAL: _l("Consent withdrawal"),
    RequestKind.OBJECTION: _l("Objection"),
}
STATUS_LABELS = register.STATUS_LABELS  # the services' refusals name them too
IDENTITY_LABELS = {
    IdentityMethod.IN_PERSON: _l("In person (badge or ID seen)"),
    IdentityMethod.KNOWN_CHANNEL: _l("From the employee's registered e-mail or phone"),
    IdentityMethod.MANAGER_CONFIRMATION: _l("Confirmed by their manager"),
    IdentityMethod.DOCUMENT: _l("Identity document"),
}
REFUSAL_LABELS = {
    RefusalReason.LEGAL_OBLIGATION: _l("Legal obligation"),
    RefusalReason.NATIONAL_SECURITY: _l("National security"),
    RefusalReason.PUBLIC_SAFETY_OR_HEALTH: _l("Public safety or health"),
    RefusalReason.CRIMINAL_INVESTIGATION: _l("Criminal investigation"),
    RefusalReason.PROTECTION_OF_LIFE_OR_PROPERTY: _l("Protection of life or property"),
    RefusalReason.ABUSE_OF_RIGHTS: _l("Manifestly unfounded or excessive"),
    RefusalReason.HARM_TO_OTHERS_RIGHTS: _l("Harm to others' rights"),
    RefusalReason.TRADE_SECRETS: _l("Trade secrets"),
    RefusalReason.IDENTITY_NOT_VERIFIED: _l("Identity could not be verified"),
}
GROUND_LABELS = {
    "accuracy_contested": _l("Accuracy contested"),
    "unlawful_processing": _l("Unlawful processing, erasure opposed"),
    "needed_for_legal_claims": _l("Needed by the employee for legal claims"),
    "objection_pending": _l("Objection being considered"),
}
NOTICE_LABELS = {"letter": _l("Letter"), "email": _l("E-mail"), "in_person": _l("In person")}
FILTERS = {"open": _l("Open"), "closed": _l("Closed"), "all": _l("All")}


@bp.app_template_global()
def request_kind_label(kind: str) -> object:
    return KIND_LABELS.get(RequestKind(kind), kind)


@bp.app_template_global()
def request_status_label(status: str) -> object:
    return STATUS_LABELS.get(RequestStatus(status), status)


# --------------------------------------------------------------------------- register
@bp.get("/rights/requests")
@require_role(*READ)
def requests() -> ResponseReturnValue:
    db = get_session()
    shown = request.args.get("status", "open")
    if shown not in FILTERS:
        shown = "open"
    query = select(SubjectRequest, Employee).join(
        Employee, Employee.id == SubjectRequest.employee_id
    )
    open_states = [s.value for s in RequestStatus if not s.closed]
    if shown == "open":
        query = query.where(SubjectRequest.status.in_(open_states)).order_by(SubjectRequest.due_at)
    elif shown == "closed":
        query = query.where(SubjectRequest.status.not_in(open_states)).order_by(
            SubjectRequest.closed_at.desc()
        )
    else:
        query = query.order_by(SubjectRequest.id.desc())
    rows = db.execute(query.limit(500)).all()
    now = utcnow()
    due = {d.request_id: d for d in register.deadlines(db, now)}
    return render_template(
        "rights/requests.html",
        rows=rows,
        due=due,
        now=now,
        shown=shown,
        filters=FILTERS,
        kinds=KIND_LABELS,
    )


@bp.get("/rights/requests.csv")
@require_role(*READ)
def register_export() -> ResponseReturnValue:
    db = get_session()
    text = register.register_csv(db, actor=current_actor())
    db.commit()
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=request-register.csv"},
    )


@bp.post("/rights/requests")
@require_role(*ACT)
def create() -> ResponseReturnValue:
    db = get_session()
    code = (request.form.get("employee_code") or "").strip()
    employee_id = db.scalar(
        select(Employee.id).where(Employee.employee_code == code, Employee.erased_at.is_(None))
    )
    if employee_id is None:
        flash(_("No employee has the code %(code)s.", code=code or "-"), "error")
        return redirect(url_for("rights.requests"))
    try:
        received = _day(request.form.get("received_on"), default_now=True)
        req = register.receive_request(
            db,
            employee_id=employee_id,
            kind=request.form.get("kind", ""),
            received_at=received,
            actor=current_actor(),
        )
    except AppError as exc:
        flash(exc.message, "error")
        return redirect(url_for("rights.requests"))
    db.commit()
    flash(_("Request %(id)s registered.", id=req.id), "success")
    return redirect(url_for("rights.show", request_id=req.id))


def _day(value: str | None, *, default_now: bool = False) -> datetime:
    """A date from a form as the start of that day in UTC (today: now)."""
    if not value:
        if default_now:
            return utcnow()
        raise ValidationError(_("Give a date."))
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValidationError(_("%(value)s is not a date.", value=value)) from None
    if day == utcnow().date():
        return utcnow()
    return datetime.combine(day, time(12), tzinfo=UTC)


# --------------------------------------------------------------------------- one request
@bp.get("/rights/requests/<int:request_id>")
@require_role(*READ)
def show(request_id: int) -> ResponseReturnValue:
    db = get_session()
    req = db.get(SubjectRequest, request_id)
    if req is None:
        abort(404)
    employee = db.get(Employee, req.employee_id)
    run = db.scalar(select(ErasureRun).where(ErasureRun.request_id == req.id))
    # The services log a request's steps as "subject_request" events; its erasure's own.
    about = AuditEvent.object_type == "subject_request", AuditEvent.object_id == str(req.id)
    if run is not None:
        about_run = AuditEvent.object_type == "erasure", AuditEvent.object_id == str(run.id)
        where = or_(and_(*about), and_(*about_run))
    else:
        where = and_(*about)
    history = db.scalars(select(AuditEvent).where(where).order_by(AuditEvent.seq)).all()
    verifier = db.get(Account, req.identity_verified_by_id) if req.identity_verified_by_id else None
    downloads = db.scalars(
        select(Download).where(Download.request_id == req.id).order_by(Download.id)
    ).all()
    now = utcnow()
    # What extend_request would accept: open, not extended yet, the profile allows one, and
    # the first deadline not passed.
    can_extend = (
        not RequestStatus(req.status).closed
        and req.extended_at is None
        and profiles.extended_due_date(req.received_at, req.jurisdiction) is not None
        and now <= req.due_at
    )
    # Who confirmed a terminal by hand, by username: the receipt holds account ids.
    by_hand = [
        t["by_hand"]["account"]
        for t in (run.receipt.get("terminals", {}).values() if run else ())
        if t.get("by_hand") and t["by_hand"].get("account")
    ]
    hand_accounts = (
        dict(db.execute(select(Account.id, Account.username).where(Account.id.in_(by_hand))).all())
        if by_hand
        else {}
    )
    return render_template(
        "rights/request.html",
        req=req,
        employee=employee,
        run=run,
        hand_accounts=hand_accounts,
        answered=register.is_answered(db, req),
        package_given=register.package_given(db, req),
        hand_labels=HAND_LABELS,
        receipt_ok=erasure.verify_receipt(db, run.id) if run and run.receipt_digest else None,
        history=history,
        verifier=verifier,
        downloads=downloads,
        now=now,
        can_extend=can_extend,
        status=RequestStatus(req.status),
        kinds=RequestKind,
        identity_methods=IDENTITY_LABELS,
        refusal_reasons=REFUSAL_LABELS,
        grounds=GROUND_LABELS,
        notice_methods=NOTICE_LABELS,
    )


def _act(request_id: int, work: Callable[[Session, SubjectRequest], object]) -> ResponseReturnValue:
    """Run one action on a request; a refused action is explained and changes nothing."""
    db = get_session()
    req = db.get(SubjectRequest, request_id)
    if req is None:
        abort(404)
    try:
        message = work(db, req)
    except AppError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("rights.show", request_id=request_id))
    db.commit()
    flash(str(message), "success")
    return redirect(url_for("rights.show", request_id=request_id))


@bp.post("/rights/requests/<int:request_id>/verify")
@require_role(*ACT)
def verify(request_id: int) -> ResponseReturnValue:
    def work(db: Session, req: SubjectRequest) -> object:
        register.verify_identity(
            db, request_id, method=request.form.get("method", ""), actor=current_actor()
        )
        return _("Identity verification recorded.")

    return _act(request_id, work)


@bp.post("/rights/requests/<int:request_id>/start")
@require_role(*ACT)
def start(request_id: int) -> ResponseReturnValue:
    def work(db: Session, req: SubjectRequest) -> object:
        register.start_work(db, request_id, actor=current_actor())
        return _("Work on the request has started.")

    return _act(request_id, work)


@bp.post("/rights/requests/<int:request_id>/extend")
@require_role(*ACT)
def extend(request_id: int) -> ResponseReturnValue:
    def work(db: Session, req: SubjectRequest) -> object:
        register.extend_request(
            db,
            request_id,
            reason=request.form.get("reason", ""),
            notified_at=_day(request.form.get("notified_on"), default_now=True),
            actor=current_actor(),
        )
        return _("The deadline is extended.")

    return _act(request_id, work)


@bp.post("/rights/requests/<int:request_id>/refuse")
@require_role(*ACT)
def refuse(request_id: int) -> ResponseReturnValue:
    def work(db: Session, req: SubjectRequest) -> object:
        register.refuse_request(
            db,
            request_id,
            reason=request.form.get("reason") or None,
            text_for_employee=request.form.get("text") or None,
            actor=current_actor(),
        )
        return _("The request is refused; give the employee the text recorded.")

    return _act(request_id, work)


@bp.post("/rights/requests/<int:request_id>/complete")
@require_role(*ACT)
def complete(request_id: int) -> ResponseReturnValue:
    def work(db: Session, req: SubjectRequest) -> object:
        if req.kind == RequestKind.ERASURE:
            raise ValidationError(_("An erasure request completes when its erasure does."))
        register.complete_request(db, request_id, actor=current_actor())
        return _("The request is completed.")

    return _act(request_id, work)


@bp.post("/rights/requests/<int:request_id>/package")
@require_role(*ACT)
def package(request_id: int) -> ResponseReturnValue:
    """Build the access package and give a download link, shown once."""
    db = get_session()
    req = db.get(SubjectRequest, request_id)
    if req is None:
        abort(404)
    if req.kind not in (RequestKind.ACCESS, RequestKind.COPY):
        flash(_("Only access and copy requests produce a package."), "error")
        return redirect(url_for("rights.show", request_id=request_id))
    try:
        register.require_work(db, request_id, action="answered with a package")
    except AppError as exc:
        flash(exc.message, "error")
        return redirect(url_for("rights.show", request_id=request_id))
    actor = current_actor()
    built = build_access_package(db, req.employee_id, actor=actor)
    _item, token = create_download(
        db,
        data_dir=settings().data_dir,
        employee_id=req.employee_id,
        kind="access",
        content=built.to_zip(),
        content_type="application/zip",
        suffix="zip",
        actor=actor,
        request_id=req.id,
    )
    db.commit()
    link = url_for("rights.download", token=token, _external=True)
    flash(
        _("Package ready. Download link (shown once, valid 7 days): %(link)s", link=link), "success"
    )
    return redirect(url_for("rights.show", request_id=request_id))


@bp.post("/rights/requests/<int:request_id>/restrict")
@require_role(*ACT)
def restrict(request_id: int) -> ResponseReturnValue:
    def work(db: Session, req: SubjectRequest) -> object:
        register.require_work(
            db, request_id, kinds=(RequestKind.RESTRICTION,), action="acted on (restriction)"
        )
        n = restrict_employee(
            db,
            req.employee_id,
            reason=request.form.get("ground", ""),
            request_id=req.id,
            actor=current_actor(),
        )
        return _("Processing restricted; %(n)s terminal removal(s) queued.", n=n)

    return _act(request_id, work)


@bp.post("/rights/requests/<int:request_id>/lift")
@require_role(*ACT)
def lift(request_id: int) -> ResponseReturnValue:
    def work(db: Session, req: SubjectRequest) -> object:
        register.require_liftable(db, request_id)
        n = lift_restriction(
            db,
            req.employee_id,
            notified_at=_day(request.form.get("notified_on"), default_now=True),
            method=request.form.get("method", ""),
            evidence_ref=request.form.get("evidence") or None,
            actor=current_actor(),
        )
        return _("Restriction lifted; %(n)s terminal update(s) queued.", n=n)

    return _act(request_id, work)


@bp.post("/rights/requests/<int:request_id>/erase")
@require_role(*ACT)
def erase(request_id: int) -> ResponseReturnValue:
    """Start (or resume) the erasure; what needs the terminals continues in the worker."""
    db = get_session()
    if db.get(SubjectRequest, request_id) is None:
        abort(404)
    actor = current_actor()
    run = register.erasure_run_of(db, request_id)
    if run is not None:
        # Resuming: it runs from its checkpoint whatever the request's state (waiting for
        # terminals, or in progress after a crash); start_erasure wants in_progress only.
        run_id = run.id
    else:
        if request.form.get("confirm") != "ERASE":
            flash(_("Type ERASE to confirm: an erasure cannot be undone."), "error")
            return redirect(url_for("rights.show", request_id=request_id))
        try:
            register.require_work(db, request_id, kinds=(RequestKind.ERASURE,), action="erased")
            run_id = erasure.start_erasure(db, request_id, actor=actor).id
        except AppError as exc:
            db.rollback()
            flash(exc.message, "error")
            return redirect(url_for("rights.show", request_id=request_id))
    db.commit()
    outcome = _run_on(db, run_id, actor)
    if outcome.state != "completed":
        flash(
            _(
                "Erased on the server. Waiting for %(n)s terminal(s) to confirm; the worker "
                "finishes the erasure when they do.",
                n=len(outcome.waiting_on),
            ),
            "warning",
        )
    return redirect(url_for("rights.show", request_id=request_id))


def _run_on(db: Session, run_id: int, actor: Actor) -> erasure.ErasureOutcome:
    """Run the erasure's remaining steps, this request's session closed first (SQLite: no
    transaction of ours held while the executor writes); says so if it completed."""
    sessions = current_app.extensions["rollcall.sessions"]
    db.close()
    outcome = erasure.run_erasure(sessions, run_id, data_dir=settings().data_dir, actor=actor)
    if outcome.state == "completed":
        flash(_("Erasure completed. The receipt is below and in the operation log."), "success")
    return outcome


@bp.post("/rights/requests/<int:request_id>/erasure/retry")
@require_role(*ACT)
def retry_erasure(request_id: int) -> ResponseReturnValue:
    """Ask the terminals again now: failed deletes are queued again, waiting ones made due."""

    def work(db: Session, req: SubjectRequest) -> object:
        run = register.erasure_run_of(db, req.id)
        if run is None:
            raise ValidationError(_("This request has no erasure to retry."))
        asked = erasure.retry_terminal_deletes(db, run.id, actor=current_actor())
        return _(
            "%(n)s terminal(s) asked again; the worker sends the deletes at its next pass.",
            n=len(asked),
        )

    return _act(request_id, work)


@bp.post("/rights/requests/<int:request_id>/erasure/terminals/<serial>/confirm")
@require_role(*ACT)
def confirm_terminal(request_id: int, serial: str) -> ResponseReturnValue:
    """Record that a terminal Rollcall cannot reach was cleared by hand; the erasure then
    runs on and completes if nothing else waits."""
    db = get_session()
    if db.get(SubjectRequest, request_id) is None:
        abort(404)
    run = register.erasure_run_of(db, request_id)
    if run is None:
        abort(404)
    actor = current_actor()
    try:
        erasure.confirm_by_hand(db, run.id, serial, how=request.form.get("how", ""), actor=actor)
    except AppError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("rights.show", request_id=request_id))
    db.commit()
    outcome = _run_on(db, run.id, actor)
    if outcome.state != "completed":
        flash(
            _(
                "Recorded. Still waiting for %(n)s terminal(s) to confirm.",
                n=len(outcome.waiting_on),
            ),
            "success",
        )
    return redirect(url_for("rights.show", request_id=request_id))


# --------------------------------------------------------------------------- downloads
@bp.get("/downloads/<token>")
@require_role(Role.PRIVACY_OFFICER)
def download(token: str) -> ResponseReturnValue:
    """The file behind a download link, while it lasts; every fetch is logged."""
    db = get_session()
    item, path = fetch_download(db, token, data_dir=settings().data_dir, actor=current_actor())
    db.commit()
    response = send_file(
        path,
        mimetype=item.content_type,
        as_attachment=True,
        download_name=item.filename,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
