# SPDX-License-Identifier: GPL-2.0-or-later
"""The request register's lifecycle: receive, verify identity, extend, refuse, complete.

Services flush and audit; the caller commits. Every transition is checked against the
request's state, and every one is in the operation log with identifiers only.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.services import Actor, record_event
from server.db import utcnow
from server.employees.models import Employee
from server.errors import ConflictError, NotFoundError, ValidationError
from server.organization.models import OrganizationSettings
from server.rights import profiles
from server.rights.models import (
    ErasureRun,
    IdentityMethod,
    RefusalReason,
    RequestKind,
    RequestStatus,
    SubjectRequest,
)

OPEN = tuple(s for s in RequestStatus if not s.closed)
# Where the work of a request is done: identity verified and work started (#7 review).
WORKING = (RequestStatus.IN_PROGRESS, RequestStatus.WAITING_FOR_TERMINALS)
MAX_TEXT = 4000
STATUS_LABELS = {
    RequestStatus.RECEIVED: _l("Received"),
    RequestStatus.IDENTITY_VERIFIED: _l("Identity verified"),
    RequestStatus.IN_PROGRESS: _l("In progress"),
    RequestStatus.WAITING_FOR_TERMINALS: _l("Waiting for terminals"),
    RequestStatus.COMPLETED: _l("Completed"),
    RequestStatus.REFUSED: _l("Refused"),
}


def _get(db: Session, request_id: int) -> SubjectRequest:
    found = db.get(SubjectRequest, request_id)
    if found is None:
        raise NotFoundError(_("There is no request %(id)s.", id=request_id))
    return found


# Why an action cannot be done in a request's state: one whole sentence per action, so
# that each language can word it (#6). Keys are the ``action`` words the services pass.
_NOT_NOW = {
    "verified": _l('Request %(id)s is "%(status)s": its identity cannot be verified now.'),
    "started": _l('Request %(id)s is "%(status)s": work on it cannot start now.'),
    "extended": _l('Request %(id)s is "%(status)s": its deadline cannot be extended.'),
    "refused": _l('Request %(id)s is "%(status)s": it cannot be refused.'),
    "put on hold for terminals": _l(
        'Request %(id)s is "%(status)s": it cannot be put on hold for terminals.'
    ),
    "completed": _l('Request %(id)s is "%(status)s": it cannot be completed now.'),
    "answered with a package": _l(
        'Request %(id)s is "%(status)s": it cannot be answered with a package now.'
    ),
    "acted on (restriction)": _l(
        'Request %(id)s is "%(status)s": processing cannot be restricted or lifted for it now.'
    ),
    "erased": _l('Request %(id)s is "%(status)s": its erasure cannot start now.'),
}
_NOT_NOW_OTHER = _l('Request %(id)s is "%(status)s": this cannot be done now.')


def _not_now(req: SubjectRequest, action: str) -> str:
    """Why ``action`` cannot be done in the request's state, in the reader's language."""
    status = RequestStatus(req.status)
    facts = {"id": req.id, "status": str(STATUS_LABELS.get(status, status))}
    return str(_NOT_NOW.get(action, _NOT_NOW_OTHER)) % facts


def _require(req: SubjectRequest, *allowed: RequestStatus, action: str) -> None:
    if RequestStatus(req.status) not in allowed:
        raise ConflictError(_not_now(req, action), details={"status": req.status})


def _require_verified(req: SubjectRequest, *, action: str) -> None:
    """Nothing is done for a requester who has not been shown to be the employee: acting
    would disclose or destroy someone else's data (GDPR 12(6), GB/T 35273 §8.7)."""
    if req.identity_verified_at is None:
        raise ConflictError(
            _(
                "Request %(id)s: the requester's identity is not verified yet. Record how "
                "it was verified first.",
                id=req.id,
            ),
            details={"status": req.status, "identity_verified": False, "action": action},
        )


def require_work(
    db: Session,
    request_id: int,
    *,
    kinds: tuple[RequestKind, ...] | None = None,
    action: str,
) -> SubjectRequest:
    """The request, if work on it may be done now: open, identity verified, work started
    (and of one of ``kinds``). For what the pages, the API and the CLI do on a request
    (packages, restriction, erasure); raises otherwise and changes nothing."""
    req = _get(db, request_id)
    if kinds is not None and RequestKind(req.kind) not in kinds:
        raise ValidationError(
            _(
                "This does not apply to request %(id)s (a %(kind)s request).",
                id=req.id,
                kind=req.kind,
            ),
            details={"kind": req.kind},
        )
    _require_verified(req, action=action)
    _require(req, *WORKING, action=action)
    return req


def require_liftable(db: Session, request_id: int) -> SubjectRequest:
    """The restriction request whose restriction may be lifted now. Lifting ends what the
    request started, so it may come after the request was completed (the restriction was
    its answer), never before the identity was verified; otherwise as
    :func:`require_work`."""
    req = _get(db, request_id)
    if req.kind == RequestKind.RESTRICTION and req.identity_verified_at is not None:
        return req
    return require_work(
        db, request_id, kinds=(RequestKind.RESTRICTION,), action="acted on (restriction)"
    )


def erasure_run_of(db: Session, request_id: int) -> ErasureRun | None:
    """The erasure run opened for this request, if any (at most one)."""
    return db.scalar(select(ErasureRun).where(ErasureRun.request_id == request_id))


def _audit(db: Session, req: SubjectRequest, action: str, actor: Actor, **details: object) -> None:
    record_event(
        db,
        f"request.{action}",
        actor=actor,
        object_type="subject_request",
        object_id=req.id,
        subject_employee_id=req.employee_id,
        details={"kind": req.kind, "status": req.status, **details},
    )


def _text(value: str | None, field: str) -> str:
    """The free text of ``field`` ("reason" of an extension, "text_for_employee" of a
    refusal), required and bounded."""
    text = (value or "").strip()
    extension = field == "reason"
    if not text:
        raise ValidationError(
            _("Give the reasons for the extension.")
            if extension
            else _("Give the text the employee receives."),
            details={"field": field},
        )
    if len(text) > MAX_TEXT:
        raise ValidationError(
            _("The reasons for the extension have at most %(n)d characters.", n=MAX_TEXT)
            if extension
            else _("The text for the employee has at most %(n)d characters.", n=MAX_TEXT),
            details={"field": field},
        )
    return text


def receive_request(
    db: Session,
    *,
    employee_id: int,
    kind: RequestKind | str,
    actor: Actor,
    received_at: datetime | None = None,
) -> SubjectRequest:
    """Register a request the employee made (to their admin, in any form); the clock starts."""
    try:
        kind = RequestKind(kind)
    except ValueError:
        raise ValidationError(
            _("The type of request is one of: %(kinds)s.", kinds=", ".join(RequestKind)),
            details={"field": "kind"},
        ) from None
    if db.get(Employee, employee_id) is None:
        raise NotFoundError(_("No such employee."))
    received_at = received_at or utcnow()
    if received_at > utcnow() + timedelta(minutes=5):
        raise ValidationError(
            _("A request cannot be received in the future."), details={"field": "received_at"}
        )
    org = db.get(OrganizationSettings, 1)
    jurisdiction = org.jurisdiction if org else "gdpr"
    req = SubjectRequest(
        employee_id=employee_id,
        kind=kind,
        status=RequestStatus.RECEIVED,
        jurisdiction=jurisdiction,
        received_at=received_at,
        due_at=profiles.due_date(received_at, jurisdiction),
        created_by_id=actor.account_id,
    )
    db.add(req)
    db.flush()
    _audit(db, req, "received", actor, due_at=req.due_at.isoformat())
    return req


def verify_identity(
    db: Session, request_id: int, *, method: IdentityMethod | str, actor: Actor
) -> SubjectRequest:
    req = _get(db, request_id)
    _require(req, RequestStatus.RECEIVED, action="verified")
    try:
        method = IdentityMethod(method)
    except ValueError:
        raise ValidationError(
            _(
                "How the identity was verified is one of: %(methods)s.",
                methods=", ".join(IdentityMethod),
            ),
            details={"field": "method"},
        ) from None
    req.identity_method = method
    req.identity_verified_at = utcnow()
    req.identity_verified_by_id = actor.account_id
    req.status = RequestStatus.IDENTITY_VERIFIED
    db.flush()
    _audit(db, req, "identity_verified", actor, method=str(method))
    return req


def start_work(db: Session, request_id: int, *, actor: Actor) -> SubjectRequest:
    req = _get(db, request_id)
    _require_verified(req, action="started")
    _require(req, RequestStatus.IDENTITY_VERIFIED, action="started")
    req.status = RequestStatus.IN_PROGRESS
    db.flush()
    _audit(db, req, "started", actor)
    return req


def extend_request(
    db: Session,
    request_id: int,
    *,
    reason: str,
    notified_at: datetime,
    actor: Actor,
    now: datetime | None = None,
) -> SubjectRequest:
    """Extend the deadline where the profile allows it: once, with the reasons recorded and
    the employee told before the first deadline (GDPR art. 12(3)).

    An extension is not a step of the work: the request keeps its status (one received stays
    to be verified; one waiting for offline terminals keeps waiting) and ``extended_at``
    records it."""
    req = _get(db, request_id)
    _require(
        req,
        RequestStatus.RECEIVED,
        RequestStatus.IDENTITY_VERIFIED,
        RequestStatus.IN_PROGRESS,
        RequestStatus.WAITING_FOR_TERMINALS,
        action="extended",
    )
    reason = _text(reason, "reason")
    new_due = profiles.extended_due_date(req.received_at, req.jurisdiction)
    if new_due is None:
        raise ConflictError(
            _(
                "The %(jurisdiction)s profile allows no extension of the deadline.",
                jurisdiction=req.jurisdiction,
            )
        )
    if req.extended_at is not None:
        raise ConflictError(_("Request %(id)s was already extended.", id=req.id))
    now = now or utcnow()
    if notified_at > now:
        raise ValidationError(
            _("The employee cannot have been told in the future."),
            details={"field": "notified_at"},
        )
    # Dates, not instants: the pages record the day the employee was told.
    if notified_at.astimezone(req.received_at.tzinfo).date() < req.received_at.date():
        raise ValidationError(
            _(
                "The employee cannot have been told of the extension before the request was "
                "received (%(day)s).",
                day=f"{req.received_at:%Y-%m-%d}",
            ),
            details={"field": "notified_at"},
        )
    if notified_at > req.due_at or now > req.due_at:
        raise ConflictError(
            _(
                "The extension had to be notified before the first deadline (%(due)s UTC).",
                due=f"{req.due_at:%Y-%m-%d %H:%M}",
            )
        )
    req.extended_at, req.extension_reason, req.extension_notified_at = now, reason, notified_at
    req.due_at = new_due
    db.flush()
    _audit(db, req, "extended", actor, due_at=new_due.isoformat())
    return req


def refuse_request(
    db: Session,
    request_id: int,
    *,
    reason: RefusalReason | str | None,
    text_for_employee: str | None,
    actor: Actor,
) -> SubjectRequest:
    """Refuse on one of the closed legal grounds, with the text the employee receives."""
    req = _get(db, request_id)
    _require(req, *OPEN, action="refused")
    if erasure_run_of(db, req.id) is not None:
        # The data is (being) erased: the request was acted on and cannot be refused.
        raise ConflictError(
            _(
                "Request %(id)s cannot be refused: its erasure has started. It completes "
                "when the erasure does.",
                id=req.id,
            ),
            details={"status": req.status},
        )
    if package_given(db, req):
        raise ConflictError(
            _(
                "Request %(id)s cannot be refused: the employee's package was prepared for "
                "it. Complete it instead.",
                id=req.id,
            ),
            details={"status": req.status},
        )
    if not reason:
        raise ValidationError(_("A refusal needs its legal ground."), details={"field": "reason"})
    try:
        reason = RefusalReason(reason)
    except ValueError:
        raise ValidationError(
            _(
                "That is not a legal ground for refusing; the ground is one of: %(grounds)s.",
                grounds=", ".join(r.value for r in RefusalReason),
            ),
            details={"field": "reason"},
        ) from None
    if reason == RefusalReason.IDENTITY_NOT_VERIFIED and req.identity_verified_at is not None:
        raise ValidationError(
            _("The requester's identity was verified: choose another ground."),
            details={"field": "reason"},
        )
    req.refusal_text = _text(text_for_employee, "text_for_employee")
    req.refusal_reason = reason
    req.status = RequestStatus.REFUSED
    req.closed_at = utcnow()
    db.flush()
    _audit(db, req, "refused", actor, reason=str(reason))
    return req


def wait_for_terminals(db: Session, request_id: int, *, actor: Actor) -> SubjectRequest:
    req = _get(db, request_id)
    _require(req, RequestStatus.IN_PROGRESS, action="put on hold for terminals")
    req.status = RequestStatus.WAITING_FOR_TERMINALS
    db.flush()
    _audit(db, req, "waiting_for_terminals", actor)
    return req


def package_given(db: Session, req: SubjectRequest) -> bool:
    """Whether the employee's package was prepared for this request (then it is answered,
    and no longer refused)."""
    from server.rights.models import Download

    return db.scalar(select(Download.id).where(Download.request_id == req.id).limit(1)) is not None


def _restriction_applied(db: Session, req: SubjectRequest) -> bool:
    from server.audit.models import AuditEvent

    events: list[dict[str, Any] | None] = list(
        db.scalars(
            select(AuditEvent.details).where(
                AuditEvent.action == "employee.restricted",
                AuditEvent.subject_employee_id == req.employee_id,
            )
        )
    )
    return any((d or {}).get("request") == req.id for d in events)


def _require_answered(db: Session, req: SubjectRequest) -> None:
    """A request whose answer Rollcall makes is complete only once it is made: an erasure
    request by its erasure's receipt, an access or copy request by its package, a
    restriction request by the restriction. Others are answered outside Rollcall's
    actions (a rectification, a withdrawal, an objection) and the officer says when."""
    kind = RequestKind(req.kind)
    if kind == RequestKind.ERASURE:
        run = erasure_run_of(db, req.id)
        if run is None or run.receipt_digest is None:
            raise ConflictError(
                _("An erasure request completes when its erasure does."),
                details={"answered": False},
            )
    elif kind in (RequestKind.ACCESS, RequestKind.COPY) and not package_given(db, req):
        raise ConflictError(
            _("Prepare the employee's package before completing the request."),
            details={"answered": False},
        )
    elif kind == RequestKind.RESTRICTION and not _restriction_applied(db, req):
        raise ConflictError(
            _("Restrict processing before completing the request."),
            details={"answered": False},
        )


def is_answered(db: Session, req: SubjectRequest) -> bool:
    """Whether :func:`complete_request` would accept the request's answer as made."""
    try:
        _require_answered(db, req)
    except ConflictError:
        return False
    return True


def complete_request(db: Session, request_id: int, *, actor: Actor) -> SubjectRequest:
    req = _get(db, request_id)
    _require_verified(req, action="completed")
    _require(req, *WORKING, action="completed")
    _require_answered(db, req)
    req.status = RequestStatus.COMPLETED
    req.closed_at = utcnow()
    db.flush()
    _audit(db, req, "completed", actor)
    return req


@dataclass(frozen=True, slots=True)
class Deadline:
    request_id: int
    employee_id: int
    kind: str
    due_at: datetime
    overdue: bool
    days_left: int


def deadlines(db: Session, now: datetime | None = None) -> list[Deadline]:
    """Open requests that are overdue or due within their profile's reminder window."""
    now = now or utcnow()
    out: list[Deadline] = []
    rows = db.scalars(
        select(SubjectRequest)
        .where(SubjectRequest.status.in_(OPEN))
        .order_by(SubjectRequest.due_at)
    )
    for req in rows:
        window = timedelta(days=profiles.profile(req.jurisdiction).remind_days_before)
        if req.due_at - now <= window:
            out.append(
                Deadline(
                    req.id,
                    req.employee_id,
                    req.kind,
                    req.due_at,
                    overdue=now > req.due_at,
                    days_left=(req.due_at - now).days,
                )
            )
    return out


REGISTER_COLUMNS = (
    "id",
    "employee_id",
    "kind",
    "status",
    "jurisdiction",
    "received_at",
    "due_at",
    "identity_method",
    "identity_verified_at",
    "identity_verified_by_id",
    "extended_at",
    "extension_notified_at",
    "refusal_reason",
    "closed_at",
)


def register_csv(db: Session, *, actor: Actor) -> str:
    """The register for an audit: one row per request, stable columns, identifiers only
    (no names, no refusal or extension texts). The export itself is logged."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(REGISTER_COLUMNS)
    count = 0
    for req in db.scalars(select(SubjectRequest).order_by(SubjectRequest.id)):
        values = []
        for column in REGISTER_COLUMNS:
            value = getattr(req, column)
            values.append(value.isoformat() if isinstance(value, datetime) else value)
        writer.writerow(values)
        count += 1
    record_event(db, "request.register_exported", actor=actor, details={"rows": count})
    return buffer.getvalue()
