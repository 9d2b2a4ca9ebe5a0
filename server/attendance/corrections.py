# SPDX-License-Identifier: GPL-2.0-or-later
"""Rectification of time records (GDPR 16, PIPL 46; issue #7).

A punch is never changed. A correction is appended beside it with a reason from a closed
list, its author, and, once approved by a second person, its approver. The newest approved
correction of a punch is the punch's effective value: :func:`effective_punches` is the one
query timesheets, reports and exports read punches through. Services flush and audit (ids
and the reason code only; the note stays with the correction); the caller commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, and_, func, or_, select, type_coerce
from sqlalchemy.orm import Session, aliased

from server.attendance.models import (
    CorrectionAction,
    CorrectionReason,
    CorrectionStatus,
    Punch,
    PunchCorrection,
)
from server.audit.services import Actor, record_event
from server.db import UTCDateTime, utcnow
from server.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError

# 0 check-in, 1 check-out, 2 break-out, 3 break-in, 4 OT-in, 5 OT-out, 255 undefined.
PUNCH_STATES = frozenset({0, 1, 2, 3, 4, 5, 255})
NOTE_MAX = 500


def _choice(
    value: str, allowed: type[CorrectionAction] | type[CorrectionReason], field: str
) -> str:
    try:
        return allowed(value).value
    except ValueError:
        raise ValidationError(
            _(
                "%(field)s is one of: %(values)s.",
                field=field,
                values=", ".join(a.value for a in allowed),
            ),
            details={"field": field},
        ) from None


def _check_request(db: Session, request_id: int, employee_id: int) -> None:
    """A correction answers an open rectification request of the same employee."""
    from server.rights.models import RequestKind, RequestStatus, SubjectRequest

    req = db.get(SubjectRequest, request_id)
    if (
        req is None
        or req.employee_id != employee_id
        or req.kind != RequestKind.RECTIFICATION
        or RequestStatus(req.status).closed
    ):
        raise ValidationError(
            _("The request must be an open rectification request of the same employee."),
            details={"field": "request_id"},
        )


def propose_correction(
    db: Session,
    punch_id: int,
    *,
    action: str,
    reason: str,
    occurred_at: datetime | None = None,
    punch_state: int | None = None,
    note: str | None = None,
    request_id: int | None = None,
    actor: Actor,
) -> PunchCorrection:
    """Propose a correction of a punch; it counts once another person approves it."""
    action = _choice(action, CorrectionAction, "action")
    reason = _choice(reason, CorrectionReason, "reason")
    punch = db.get(Punch, punch_id)
    if punch is None:
        raise NotFoundError(_("No such punch."))
    if punch.employee_id is None:
        raise ConflictError(_("Map the punch's PIN to an employee before correcting it."))
    if action == CorrectionAction.VOID and (occurred_at is not None or punch_state is not None):
        raise ValidationError(_("A voided punch takes no new time or state."))
    if action == CorrectionAction.AMEND:
        if occurred_at is None and punch_state is None:
            raise ValidationError(_("An amendment gives a new time, a new state, or both."))
        if occurred_at is not None:
            if occurred_at.tzinfo is None:
                raise ValidationError(
                    _("The corrected time must carry a time zone."),
                    details={"field": "occurred_at"},
                )
            if occurred_at > utcnow():
                raise ValidationError(
                    _("A punch cannot be corrected into the future."),
                    details={"field": "occurred_at"},
                )
        if punch_state is not None and punch_state not in PUNCH_STATES:
            raise ValidationError(
                _("The punch state is 0-5 (in, out, break out, break in, OT in, OT out) or 255."),
                details={"field": "punch_state"},
            )
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise ValidationError(
            _("The note is at most %(n)d characters.", n=NOTE_MAX), details={"field": "note"}
        )
    if reason == CorrectionReason.OTHER and note is None:
        raise ValidationError(_("Say why in the note when the reason is 'other'."))
    if request_id is not None:
        _check_request(db, request_id, punch.employee_id)
    correction = PunchCorrection(
        punch_id=punch.id,
        employee_id=punch.employee_id,
        action=action,
        occurred_at=occurred_at,
        punch_state=punch_state,
        reason=reason,
        note=note,
        request_id=request_id,
        status=CorrectionStatus.PROPOSED.value,
        author_id=actor.account_id,
    )
    db.add(correction)
    db.flush()
    _audit(db, correction, "punch.correction_proposed", actor)
    return correction


def _decided_already(status: str) -> str:
    if status == CorrectionStatus.APPROVED.value:
        return str(_("The correction is approved already."))
    if status == CorrectionStatus.REJECTED.value:
        return str(_("The correction is rejected already."))
    return str(_("The correction is decided already."))


def _decide(
    db: Session, correction_id: int, status: CorrectionStatus, *, actor: Actor
) -> PunchCorrection:
    correction = db.get(PunchCorrection, correction_id)
    if correction is None:
        raise NotFoundError(_("No such correction."))
    if correction.status != CorrectionStatus.PROPOSED.value:
        raise ConflictError(_decided_already(correction.status))
    if actor.account_id is None:
        raise PermissionDeniedError(_("A correction is decided by a named account."))
    if actor.account_id == correction.author_id:
        # Four eyes: whoever proposes a change to a time record does not approve it.
        raise PermissionDeniedError(_("Another person must decide on a correction you proposed."))
    correction.status = status.value
    correction.decided_by_id = actor.account_id
    correction.decided_at = utcnow()
    db.flush()
    _audit(db, correction, f"punch.correction_{status.value}", actor)
    return correction


def approve_correction(db: Session, correction_id: int, *, actor: Actor) -> PunchCorrection:
    return _decide(db, correction_id, CorrectionStatus.APPROVED, actor=actor)


def reject_correction(db: Session, correction_id: int, *, actor: Actor) -> PunchCorrection:
    return _decide(db, correction_id, CorrectionStatus.REJECTED, actor=actor)


def _audit(db: Session, correction: PunchCorrection, action: str, actor: Actor) -> None:
    record_event(
        db,
        action,
        actor=actor,
        object_type="punch_correction",
        object_id=correction.id,
        subject_employee_id=correction.employee_id,
        details={
            "punch": correction.punch_id,
            "action": correction.action,
            "reason": correction.reason,
            "request": correction.request_id,
        },
    )


def corrections_of(db: Session, punch_id: int) -> list[PunchCorrection]:
    return list(
        db.scalars(
            select(PunchCorrection)
            .where(PunchCorrection.punch_id == punch_id)
            .order_by(PunchCorrection.id)
        )
    )


def effective_punches() -> Select[*tuple[Any, ...]]:
    """Punches as they count: the newest approved correction's time and state where there is
    one, voided punches left out. Columns: the punch's own, with ``occurred_at`` and
    ``punch_state`` effective, plus ``original_occurred_at``, ``original_punch_state`` and
    ``correction_id`` (NULL when uncorrected). Callers add their filters and order."""
    newest = (
        select(
            PunchCorrection.punch_id.label("punch_id"),
            func.max(PunchCorrection.id).label("correction_id"),
        )
        .where(PunchCorrection.status == CorrectionStatus.APPROVED.value)
        .group_by(PunchCorrection.punch_id)
        .subquery("newest_correction")
    )
    fix = aliased(PunchCorrection, name="fix")
    return (
        select(
            Punch.id,
            Punch.employee_id,
            Punch.terminal_serial,
            Punch.pin,
            type_coerce(func.coalesce(fix.occurred_at, Punch.occurred_at), UTCDateTime).label(
                "occurred_at"
            ),
            func.coalesce(fix.punch_state, Punch.punch_state).label("punch_state"),
            Punch.verify_type,
            Punch.work_code,
            Punch.source,
            Punch.status,
            Punch.timezone,
            Punch.occurred_at.label("original_occurred_at"),
            Punch.punch_state.label("original_punch_state"),
            fix.id.label("correction_id"),
        )
        .outerjoin(newest, newest.c.punch_id == Punch.id)
        .outerjoin(fix, and_(fix.id == newest.c.correction_id))
        .where(or_(fix.id.is_(None), fix.action != CorrectionAction.VOID.value))
    )
