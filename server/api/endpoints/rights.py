# SPDX-License-Identifier: GPL-2.0-or-later
"""Data-subject rights (issue #7): the request register, deadlines, access packages and
erasure, over the same services as the pages and the CLI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.api.blueprint import api
from server.api.pagination import Keyset, paginate
from server.api.registry import Param, ref
from server.api.schemas import instant, iso
from server.auth.models import Role
from server.db import utcnow
from server.errors import ConflictError, NotFoundError
from server.rights import services as register
from server.rights.access import build_access_package
from server.rights.downloads import MAX_LIFETIME, create_download
from server.rights.erasure import (
    HAND_CONFIRMATIONS,
    SETTLED,
    confirm_by_hand,
    retry_terminal_deletes,
    run_erasure,
    start_erasure,
    verify_receipt,
)
from server.rights.models import (
    ErasureRun,
    IdentityMethod,
    RefusalReason,
    RequestKind,
    RequestStatus,
    SubjectRequest,
)
from server.rights.restriction import (
    GROUNDS,
    MAX_EVIDENCE_REF,
    NOTICE_METHODS,
    lift_restriction,
    restrict_employee,
)
from server.web import current_actor, get_session, settings

OFFICERS = (Role.PRIVACY_OFFICER,)
READERS = (Role.PRIVACY_OFFICER, Role.AUDITOR)
_TEXT = {"type": "string", "minLength": 1, "maxLength": register.MAX_TEXT}


def request_json(req: SubjectRequest) -> dict[str, Any]:
    return {
        "id": req.id,
        "employee_id": req.employee_id,
        "kind": req.kind,
        "status": req.status,
        "jurisdiction": req.jurisdiction,
        "received_at": iso(req.received_at),
        "due_at": iso(req.due_at),
        "overdue": not RequestStatus(req.status).closed and utcnow() > req.due_at,
        "identity_method": req.identity_method,
        "identity_verified_at": iso(req.identity_verified_at),
        "identity_verified_by_id": req.identity_verified_by_id,
        "extended_at": iso(req.extended_at),
        "extension_reason": req.extension_reason,
        "extension_notified_at": iso(req.extension_notified_at),
        "refusal_reason": req.refusal_reason,
        "refusal_text": req.refusal_text,
        "closed_at": iso(req.closed_at),
        "created_by_id": req.created_by_id,
    }


def erasure_json(run: ErasureRun) -> dict[str, Any]:
    terminals = run.receipt.get("terminals", {})
    return {
        "id": run.id,
        "request_id": run.request_id,
        "employee_id": run.employee_id,
        "state": run.state,
        "steps_done": run.next_step,
        "steps_total": len(run.receipt.get("plan", [])),
        "started_at": iso(run.started_at),
        "completed_at": iso(run.completed_at),
        "waiting_on": sorted(s for s, t in terminals.items() if t.get("state") not in SETTLED),
        "terminals": [
            {
                "serial_number": serial,
                "state": str(t.get("state")),
                "reason": t.get("reason"),
                "confirmed_at": t.get("confirmed_at"),
                "confirmed_by_hand": (t.get("by_hand") or {}).get("how"),
            }
            for serial, t in sorted(terminals.items())
        ],
    }


def _committed(req: SubjectRequest) -> Any:
    get_session().commit()
    return request_json(req)


# --------------------------------------------------------------------------- the register
@api.route(
    "/requests",
    summary="List data-subject requests, newest first",
    tag="rights",
    roles=READERS,
    query=(
        Param(
            "status",
            {"type": "string", "enum": ["open", *[s.value for s in RequestStatus]]},
            "open: every request not completed or refused; or one status.",
        ),
        Param("kind", {"type": "string", "enum": [k.value for k in RequestKind]}),
        Param("employee_id", {"type": "integer", "minimum": 1}),
    ),
    response=ref("SubjectRequest"),
    paginated=True,
)
def list_requests(query: dict[str, Any]) -> Any:
    listing = select(SubjectRequest)
    status = query.get("status")
    if status == "open":
        listing = listing.where(SubjectRequest.status.in_([s.value for s in register.OPEN]))
    elif status:
        listing = listing.where(SubjectRequest.status == status)
    if "kind" in query:
        listing = listing.where(SubjectRequest.kind == query["kind"])
    if "employee_id" in query:
        listing = listing.where(SubjectRequest.employee_id == query["employee_id"])
    page = paginate(
        get_session(),
        listing,
        Keyset(SubjectRequest.id, SubjectRequest.id, descending=True),
        limit=query["limit"],
        cursor=query.get("cursor"),
    )
    return page.json(request_json)


@api.route(
    "/requests",
    "POST",
    summary="Register a request an employee made",
    tag="rights",
    roles=OFFICERS,
    body={
        "type": "object",
        "required": ["employee_id", "kind"],
        "properties": {
            "employee_id": {"type": "integer", "minimum": 1},
            "kind": {"type": "string", "enum": [k.value for k in RequestKind]},
            "received_at": {
                "type": "string",
                "format": "date-time",
                "description": "When the employee asked (default: now); the deadline runs from it.",
            },
        },
        "additionalProperties": False,
    },
    response=ref("SubjectRequest"),
    status=201,
)
def create_request(body: dict[str, Any]) -> Any:
    received = instant(body["received_at"], "received_at") if "received_at" in body else None
    req = register.receive_request(
        get_session(),
        employee_id=body["employee_id"],
        kind=body["kind"],
        received_at=received,
        actor=current_actor(),
    )
    return _committed(req), 201


@api.route(
    "/requests/deadlines",
    summary="Open requests overdue or due soon",
    tag="rights",
    roles=READERS,
    response={
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": ref("Deadline")}},
    },
)
def deadlines() -> Any:
    """Overdue ones and those inside their profile's reminder window, soonest first."""
    return {
        "items": [
            {
                "request_id": d.request_id,
                "employee_id": d.employee_id,
                "kind": d.kind,
                "due_at": iso(d.due_at),
                "overdue": d.overdue,
                "days_left": d.days_left,
            }
            for d in register.deadlines(get_session())
        ]
    }


@api.route(
    "/requests/<int:request_id>",
    summary="One request",
    tag="rights",
    roles=READERS,
    response=ref("SubjectRequest"),
)
def get_request(request_id: int) -> Any:
    req = get_session().get(SubjectRequest, request_id)
    if req is None:
        raise NotFoundError(_("There is no request %(id)s.", id=request_id))
    return request_json(req)


@api.route(
    "/requests/<int:request_id>/verify-identity",
    "POST",
    summary="Record how the requester's identity was verified",
    tag="rights",
    roles=OFFICERS,
    body={
        "type": "object",
        "required": ["method"],
        "properties": {"method": {"type": "string", "enum": [m.value for m in IdentityMethod]}},
        "additionalProperties": False,
    },
    response=ref("SubjectRequest"),
)
def verify_identity(request_id: int, body: dict[str, Any]) -> Any:
    req = register.verify_identity(
        get_session(), request_id, method=body["method"], actor=current_actor()
    )
    return _committed(req)


@api.route(
    "/requests/<int:request_id>/start",
    "POST",
    summary="Start work on a verified request",
    tag="rights",
    roles=OFFICERS,
    response=ref("SubjectRequest"),
)
def start_request(request_id: int) -> Any:
    return _committed(register.start_work(get_session(), request_id, actor=current_actor()))


@api.route(
    "/requests/<int:request_id>/extend",
    "POST",
    summary="Extend the deadline, once, where the profile allows",
    tag="rights",
    roles=OFFICERS,
    body={
        "type": "object",
        "required": ["reason", "notified_at"],
        "properties": {
            "reason": _TEXT,
            "notified_at": {
                "type": "string",
                "format": "date-time",
                "description": "When the employee was told, before the first deadline.",
            },
        },
        "additionalProperties": False,
    },
    response=ref("SubjectRequest"),
)
def extend_request(request_id: int, body: dict[str, Any]) -> Any:
    req = register.extend_request(
        get_session(),
        request_id,
        reason=body["reason"],
        notified_at=instant(body["notified_at"], "notified_at"),
        actor=current_actor(),
    )
    return _committed(req)


@api.route(
    "/requests/<int:request_id>/refuse",
    "POST",
    summary="Refuse on a legal ground, with the text the employee receives",
    tag="rights",
    roles=OFFICERS,
    body={
        "type": "object",
        "required": ["reason", "text_for_employee"],
        "properties": {
            "reason": {"type": "string", "enum": [r.value for r in RefusalReason]},
            "text_for_employee": _TEXT,
        },
        "additionalProperties": False,
    },
    response=ref("SubjectRequest"),
)
def refuse_request(request_id: int, body: dict[str, Any]) -> Any:
    req = register.refuse_request(
        get_session(),
        request_id,
        reason=body["reason"],
        text_for_employee=body["text_for_employee"],
        actor=current_actor(),
    )
    return _committed(req)


@api.route(
    "/requests/<int:request_id>/complete",
    "POST",
    summary="Mark a request completed",
    tag="rights",
    roles=OFFICERS,
    response=ref("SubjectRequest"),
)
def complete_request(request_id: int) -> Any:
    return _committed(register.complete_request(get_session(), request_id, actor=current_actor()))


# --------------------------------------------------------------------------- restriction
@api.route(
    "/requests/<int:request_id>/restrict",
    "POST",
    summary="Restrict processing of the employee's data, as a restriction request asks",
    tag="rights",
    roles=OFFICERS,
    body={
        "type": "object",
        "required": ["ground"],
        "properties": {"ground": {"type": "string", "enum": list(GROUNDS)}},
        "additionalProperties": False,
    },
    response=ref("SubjectRequest"),
    errors=(409,),
)
def restrict(request_id: int, body: dict[str, Any]) -> Any:
    """The request must be a restriction request in progress. The employee's data stays
    stored but leaves reports, exports, statistics and terminals until it is lifted."""
    db = get_session()
    req = register.require_work(
        db, request_id, kinds=(RequestKind.RESTRICTION,), action="acted on (restriction)"
    )
    restrict_employee(
        db, req.employee_id, reason=body["ground"], request_id=req.id, actor=current_actor()
    )
    return _committed(req)


@api.route(
    "/requests/<int:request_id>/lift-restriction",
    "POST",
    summary="Lift the restriction a restriction request applied, once the employee was told",
    tag="rights",
    roles=OFFICERS,
    body={
        "type": "object",
        "required": ["method", "notified_at"],
        "properties": {
            "method": {"type": "string", "enum": list(NOTICE_METHODS)},
            "notified_at": {
                "type": "string",
                "format": "date-time",
                "description": "When the employee was told that the restriction ends.",
            },
            "evidence": {
                "type": "string",
                "maxLength": MAX_EVIDENCE_REF,
                "description": "A reference of the notice, such as a letter number (a code).",
            },
        },
        "additionalProperties": False,
    },
    response=ref("SubjectRequest"),
    errors=(409,),
)
def lift(request_id: int, body: dict[str, Any]) -> Any:
    """Also after the request was completed: the restriction was its answer."""
    db = get_session()
    req = register.require_liftable(db, request_id)
    lift_restriction(
        db,
        req.employee_id,
        notified_at=instant(body["notified_at"], "notified_at"),
        method=body["method"],
        evidence_ref=body.get("evidence"),
        actor=current_actor(),
    )
    return _committed(req)


# --------------------------------------------------------------------------- access package
@api.route(
    "/employees/<int:employee_id>/access-package",
    "POST",
    summary="Build an employee's access package as an expiring download",
    tag="rights",
    roles=OFFICERS,
    body={
        "type": "object",
        "properties": {
            "request_id": {"type": "integer", "minimum": 1},
            "locale": {"type": "string", "enum": ["en", "zh_CN"]},
            "days": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIFETIME.days,
                "default": 7,
            },
        },
        "additionalProperties": False,
    },
    body_required=False,
    response=ref("DownloadLink"),
    status=201,
)
def access_package(employee_id: int, body: dict[str, Any]) -> Any:
    """Everything the inventory declares about the employee (ZIP of JSON, CSV and a
    printable page; never a template). The build and every fetch are in the operation log."""
    db = get_session()
    actor = current_actor()
    request_id = body.get("request_id")
    if request_id is not None:
        req = db.get(SubjectRequest, request_id)
        if req is None or req.employee_id != employee_id:
            raise NotFoundError(_("The employee has no request %(id)s.", id=request_id))
        # As on the request's page: identity verified and work started (#7 review).
        register.require_work(
            db,
            request_id,
            kinds=(RequestKind.ACCESS, RequestKind.COPY),
            action="answered with a package",
        )
    package = build_access_package(db, employee_id, actor=actor, locale=body.get("locale"))
    item, token = create_download(
        db,
        data_dir=settings().data_dir,
        employee_id=employee_id,
        kind="access",
        content=package.to_zip(),
        content_type="application/zip",
        suffix="zip",
        actor=actor,
        request_id=request_id,
        lifetime=timedelta(days=int(body.get("days", 7))),
    )
    db.commit()
    return {
        "download_id": item.id,
        "url": url_for("rights.download", token=token),
        "expires_at": iso(item.expires_at),
        "bytes": item.size,
    }, 201


# --------------------------------------------------------------------------- erasure
@api.route(
    "/requests/<int:request_id>/erasure",
    "POST",
    summary="Start (or resume) the erasure of an erasure request and run it",
    tag="rights",
    roles=OFFICERS,
    response=ref("Erasure"),
)
def erase(request_id: int) -> Any:
    """The request must be an erasure request in progress (identity verified, started).
    Runs every step it can; when terminals have yet to confirm their deletes the erasure
    waits (state ``waiting_for_terminals``, ``waiting_on`` names them) and the worker
    finishes it. Calling it again resumes it."""
    db = get_session()
    actor = current_actor()
    run = register.erasure_run_of(db, request_id)
    if run is None:
        register.require_work(db, request_id, kinds=(RequestKind.ERASURE,), action="erased")
        run = start_erasure(db, request_id, actor=actor)
    # else resumed from its checkpoint, whatever the request's state (waiting for terminals)
    run_id = run.id
    db.commit()
    sessions = cast(sessionmaker[Session], current_app.extensions["rollcall.sessions"])
    run_erasure(sessions, run_id, data_dir=settings().data_dir, actor=actor)
    db.expire_all()
    run = db.get(ErasureRun, run_id)
    assert run is not None  # noqa: S101  # just ran
    return erasure_json(run)


def _run_json(run_id: int) -> Any:
    db = get_session()
    db.expire_all()
    return erasure_json(_run(run_id))


@api.route(
    "/erasures/<int:erasure_id>/retry",
    "POST",
    summary="Ask the terminals again now for the deletes an erasure waits on",
    tag="rights",
    roles=OFFICERS,
    response=ref("Erasure"),
)
def retry_erasure(erasure_id: int) -> Any:
    """Failed deletes are queued again and waiting ones are made due at once; the worker
    sends them at its next pass."""
    db = get_session()
    retry_terminal_deletes(db, _run(erasure_id).id, actor=current_actor())
    db.commit()
    return _run_json(erasure_id)


@api.route(
    "/erasures/<int:erasure_id>/terminals/<serial>/confirm",
    "POST",
    summary="Record that a terminal Rollcall cannot reach was cleared by hand",
    tag="rights",
    roles=OFFICERS,
    body={
        "type": "object",
        "required": ["how"],
        "properties": {
            "how": {
                "type": "string",
                "enum": list(HAND_CONFIRMATIONS),
                "description": "deleted_at_terminal: the user was deleted in the terminal's "
                "menu; terminal_reset: reset to factory settings; terminal_destroyed: "
                "destroyed or its storage wiped.",
            }
        },
        "additionalProperties": False,
    },
    response=ref("Erasure"),
    errors=(409,),
)
def confirm_terminal(erasure_id: int, serial: str, body: dict[str, Any]) -> Any:
    """For a push terminal, or one broken or stolen: the receipt records the confirmation
    as made by hand, how and by whom. The erasure then runs on, and completes when no
    other terminal waits."""
    db = get_session()
    actor = current_actor()
    confirm_by_hand(db, _run(erasure_id).id, serial, how=body["how"], actor=actor)
    db.commit()
    sessions = cast(sessionmaker[Session], current_app.extensions["rollcall.sessions"])
    run_erasure(sessions, erasure_id, data_dir=settings().data_dir, actor=actor)
    return _run_json(erasure_id)


def _run(run_id: int) -> ErasureRun:
    run = get_session().get(ErasureRun, run_id)
    if run is None:
        raise NotFoundError(_("There is no erasure %(id)s.", id=run_id))
    return run


@api.route(
    "/erasures/<int:erasure_id>",
    summary="An erasure's progress, with the terminals still to confirm",
    tag="rights",
    roles=READERS,
    response=ref("Erasure"),
)
def get_erasure(erasure_id: int) -> Any:
    return erasure_json(_run(erasure_id))


@api.route(
    "/erasures/<int:erasure_id>/receipt",
    summary="A completed erasure's receipt, checked against the operation log",
    tag="rights",
    roles=READERS,
    response=ref("ErasureReceipt"),
    errors=(409,),
)
def erasure_receipt(erasure_id: int) -> Any:
    run = _run(erasure_id)
    if run.receipt_digest is None:
        raise ConflictError(
            _(
                "Erasure %(id)s has no receipt yet: it gets one when it completes.",
                id=erasure_id,
            )
        )
    return {
        "erasure_id": run.id,
        "receipt": run.receipt,
        "receipt_sha256": run.receipt_digest,
        "matches_operation_log": verify_receipt(get_session(), run.id),
    }
