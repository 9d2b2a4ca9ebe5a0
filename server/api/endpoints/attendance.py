# SPDX-License-Identifier: GPL-2.0-or-later
"""Punches as they count (effective values after approved corrections), and their
corrections (issue #7): proposed by one person, decided by another; the punch itself never
changes."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from server.api.blueprint import api
from server.api.pagination import MAX_LIMIT
from server.api.registry import Param, ref
from server.api.schemas import instant, iso
from server.attendance import corrections
from server.attendance.entries import ManualReason
from server.attendance.models import CorrectionAction, CorrectionReason, Punch, PunchCorrection
from server.attendance.services import (
    NOTE_MAX,
    Cursor,
    PunchFilters,
    PunchRow,
    browse_punches,
    enter_manual_punch,
)
from server.auth.models import Role
from server.employees.models import Employee
from server.errors import AppError, NotFoundError, ValidationError
from server.i18n import select_timezone
from server.web import (
    current_actor,
    department_scope,
    get_session,
    in_department_scope,
    require_department_scope,
)

EDITORS = (Role.HR_MANAGER, Role.PRIVACY_OFFICER)
ENTERERS = (Role.HR_MANAGER,)  # as the manual punch page
_FORM_FIELDS = {"time": "occurred_at", "state": "punch_state", "employee": "employee_id"}
READERS = (Role.HR_MANAGER, Role.HR_VIEWER, Role.PRIVACY_OFFICER, Role.AUDITOR)


def _punch_in_scope(punch_id: int) -> Punch:
    """The punch, if its employee is in the caller's department scope (else 404)."""
    db = get_session()
    punch = db.get(Punch, punch_id)
    if punch is None:
        raise NotFoundError(_("No such punch."))
    employee = db.get(Employee, punch.employee_id) if punch.employee_id is not None else None
    require_department_scope(employee.department_id if employee else None)
    return punch


def _correction_in_scope(correction_id: int) -> None:
    correction = get_session().get(PunchCorrection, correction_id)
    if correction is None:
        raise NotFoundError(_("No such correction."))
    _punch_in_scope(correction.punch_id)


def correction_json(c: PunchCorrection) -> dict[str, Any]:
    return {
        "id": c.id,
        "punch_id": c.punch_id,
        "employee_id": c.employee_id,
        "action": c.action,
        "occurred_at": iso(c.occurred_at),
        "punch_state": c.punch_state,
        "reason": c.reason,
        "note": c.note,
        "request_id": c.request_id,
        "status": c.status,
        "author_id": c.author_id,
        "created_at": iso(c.created_at),
        "decided_by_id": c.decided_by_id,
        "decided_at": iso(c.decided_at),
    }


@api.route(
    "/punches/<int:punch_id>/corrections",
    summary="A punch's corrections, oldest first",
    tag="attendance",
    roles=READERS,
    response={
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": ref("PunchCorrection")}},
    },
)
def list_corrections(punch_id: int) -> Any:
    db = get_session()
    _punch_in_scope(punch_id)
    return {"items": [correction_json(c) for c in corrections.corrections_of(db, punch_id)]}


@api.route(
    "/punches/<int:punch_id>/corrections",
    "POST",
    summary="Propose a correction of a punch",
    tag="attendance",
    roles=EDITORS,
    body={
        "type": "object",
        "required": ["action", "reason"],
        "properties": {
            "action": {"type": "string", "enum": [a.value for a in CorrectionAction]},
            "reason": {"type": "string", "enum": [r.value for r in CorrectionReason]},
            "occurred_at": {
                "type": "string",
                "format": "date-time",
                "description": "amend: the corrected time, with its UTC offset.",
            },
            "punch_state": {"type": "integer", "description": "amend: 0-5 or 255."},
            "note": {"type": "string", "maxLength": corrections.NOTE_MAX},
            "request_id": {
                "type": "integer",
                "minimum": 1,
                "description": "The rectification request it answers, if any.",
            },
        },
        "additionalProperties": False,
    },
    response=ref("PunchCorrection"),
    status=201,
)
def propose_correction(punch_id: int, body: dict[str, Any]) -> Any:
    """It counts once another person approves it."""
    db = get_session()
    _punch_in_scope(punch_id)
    occurred = instant(body["occurred_at"], "occurred_at") if "occurred_at" in body else None
    correction = corrections.propose_correction(
        db,
        punch_id,
        action=body["action"],
        reason=body["reason"],
        occurred_at=occurred,
        punch_state=body.get("punch_state"),
        note=body.get("note"),
        request_id=body.get("request_id"),
        actor=current_actor(),
    )
    db.commit()
    return correction_json(correction), 201


@api.route(
    "/corrections/<int:correction_id>/approve",
    "POST",
    summary="Approve a correction someone else proposed",
    tag="attendance",
    roles=EDITORS,
    response=ref("PunchCorrection"),
)
def approve_correction(correction_id: int) -> Any:
    db = get_session()
    _correction_in_scope(correction_id)
    correction = corrections.approve_correction(db, correction_id, actor=current_actor())
    db.commit()
    return correction_json(correction)


@api.route(
    "/corrections/<int:correction_id>/reject",
    "POST",
    summary="Reject a correction someone else proposed",
    tag="attendance",
    roles=EDITORS,
    response=ref("PunchCorrection"),
)
def reject_correction(correction_id: int) -> Any:
    db = get_session()
    _correction_in_scope(correction_id)
    correction = corrections.reject_correction(db, correction_id, actor=current_actor())
    db.commit()
    return correction_json(correction)


def punch_json(row: PunchRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "occurred_at": iso(row.occurred_at),
        "original_occurred_at": iso(row.original_occurred_at),
        "timezone": row.timezone,
        "terminal_serial": row.terminal_serial,
        "pin": row.pin,
        "employee_id": row.employee_id,
        "punch_state": row.punch_state,
        "verify_type": row.verify_type,
        "source": row.source,
        "status": row.status,
        "quarantine_reason": row.quarantine_reason,
        "corrected": row.corrected,
        "voided": row.voided,
    }


@api.route(
    "/punches",
    summary="Punches, newest recorded first, with their effective (corrected) values",
    tag="attendance",
    roles=READERS,
    query=(
        Param("employee_id", {"type": "integer", "minimum": 1}),
        Param("terminal", {"type": "string", "maxLength": 64}, "A terminal's serial number."),
        Param("from", {"type": "string", "format": "date-time"}, "From this instant (incl.)."),
        Param("to", {"type": "string", "format": "date-time"}, "Before this instant."),
        Param("source", {"type": "string", "enum": ["pull", "push", "manual"]}),
        Param("status", {"type": "string", "enum": ["ok", "quarantined"]}),
    ),
    response=ref("Punch"),
    paginated=True,
)
def list_punches(query: dict[str, Any]) -> Any:
    """Only the caller's departments for a scoped HR account. Employees whose processing is
    restricted are left out, as from every export."""
    filters = PunchFilters(
        employee_ids=(int(query["employee_id"]),) if query.get("employee_id") else None,
        terminal_serial=query.get("terminal") or None,
        start=instant(query["from"], "from") if query.get("from") else None,
        end=instant(query["to"], "to") if query.get("to") else None,
        source=query.get("source"),
        status=query.get("status"),
        scope=department_scope(),
        exclude_restricted=True,
    )
    cursor = Cursor.decode(query["cursor"]) if query.get("cursor") else None
    page = browse_punches(
        get_session(), filters, cursor=cursor, limit=min(int(query["limit"]), MAX_LIMIT)
    )
    return {
        "items": [punch_json(r) for r in page.rows],
        "next_cursor": page.older.encode() if page.older is not None else None,
    }


@api.route(
    "/punches",
    "POST",
    summary="Enter a punch by hand, with its reason",
    tag="attendance",
    roles=ENTERERS,
    body={
        "type": "object",
        "required": ["employee_id", "occurred_at", "punch_state", "reason"],
        "properties": {
            "employee_id": {"type": "integer", "minimum": 1},
            "occurred_at": {
                "type": "string",
                "format": "date-time",
                "description": "When, with its UTC offset; not in the future. Kept to the "
                "second, in the organization's time zone.",
            },
            "punch_state": {
                "type": "integer",
                "enum": [0, 1, 2, 3, 4, 5],
                "description": "0 in, 1 out, 2 break out, 3 break in, 4 overtime in, "
                "5 overtime out.",
            },
            "reason": {"type": "string", "enum": [r.value for r in ManualReason]},
            "note": {
                "type": ["string", "null"],
                "maxLength": NOTE_MAX,
                "description": "Required when the reason is other. Kept beside the punch, "
                "never in the operation log.",
            },
        },
        "additionalProperties": False,
    },
    response=ref("Punch"),
    status=201,
    errors=(409,),
)
def enter_punch(body: dict[str, Any]) -> Any:
    """Source ``manual``, terminal serial ``manual``. 409 when the employee already has a
    manual punch at that second, or their processing is restricted."""
    db = get_session()
    employee = db.get(Employee, body["employee_id"])
    if (
        employee is None
        or employee.erased_at is not None
        or not in_department_scope(employee.department_id)
    ):
        # As the page: an unknown person and one outside the caller's departments read alike.
        raise ValidationError(_("No such employee."), details={"field": "employee_id"})
    zone = select_timezone()
    try:
        punch = enter_manual_punch(
            db,
            employee_id=employee.id,
            occurred_at=instant(body["occurred_at"], "occurred_at"),
            punch_state=int(body["punch_state"]),
            reason=body["reason"],
            note=body.get("note"),
            timezone=zone,
            actor=current_actor(),
        )
    except AppError as exc:
        # The service names the form's fields; the API's are named as in the body.
        field = exc.details.get("field")
        if field in _FORM_FIELDS:
            exc.details["field"] = _FORM_FIELDS[field]
        raise
    db.commit()
    row = PunchRow(
        id=punch.id,
        occurred_at=punch.occurred_at,
        local_time=punch.occurred_at.astimezone(ZoneInfo(punch.timezone)),
        timezone=punch.timezone,
        terminal_serial=punch.terminal_serial,
        pin=punch.pin,
        employee_id=punch.employee_id,
        punch_state=punch.punch_state,
        verify_type=punch.verify_type,
        source=punch.source,
        status=punch.status,
        quarantine_reason=punch.quarantine_reason,
    )
    return punch_json(row), 201
