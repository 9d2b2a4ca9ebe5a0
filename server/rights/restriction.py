# SPDX-License-Identifier: GPL-2.0-or-later
"""Restriction of processing (GDPR art. 18, PIPL art. 44; issue #7, C12).

A restricted employee's data stays stored but is no longer processed: their record and
templates are taken off every terminal (through the outbox, confirmed per terminal) and
distribution skips them. Lifting needs a recorded notice to the employee (art. 18(3)): when and
how they were told. Services flush and audit; the caller commits.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from server.audit.services import Actor, is_identifier, record_event
from server.db import utcnow
from server.devices import distribution
from server.employees.services import get_employee
from server.errors import ConflictError, ValidationError

NOTICE_METHODS = ("letter", "email", "in_person")
# The notice's reference (letter number, message id) goes to the operation log: a code.
MAX_EVIDENCE_REF = 64
# The grounds of GDPR art. 18(1)(a)-(d); a closed list keeps free text out of the log.
GROUNDS = (
    "accuracy_contested",
    "unlawful_processing",
    "needed_for_legal_claims",
    "objection_pending",
)


def restrict_employee(
    db: Session,
    employee_id: int,
    *,
    reason: str,
    request_id: int | None = None,
    actor: Actor,
) -> int:
    """Restrict processing; returns how many terminal removals were queued."""
    employee = get_employee(db, employee_id)
    if employee.restricted_at is not None:
        raise ConflictError(_("Processing is restricted already."))
    if reason not in GROUNDS:
        raise ValidationError(
            _("The ground for restriction is one of: %(grounds)s.", grounds=", ".join(GROUNDS)),
            details={"field": "reason"},
        )
    employee.restricted_at = utcnow()
    db.flush()
    record_event(
        db,
        "employee.restricted",
        actor=actor,
        object_type="employee",
        object_id=employee.id,
        subject_employee_id=employee.id,
        details={"reason": reason, "request": request_id},
    )
    reference = f"restriction:{request_id}" if request_id is not None else None
    removals = distribution.remove_everywhere(db, employee, cause="restricted", reference=reference)
    return len(removals)


def lift_restriction(
    db: Session,
    employee_id: int,
    *,
    notified_at: datetime,
    method: str,
    evidence_ref: str | None,
    actor: Actor,
) -> int:
    """Lift the restriction once the employee has been told; returns terminal puts queued."""
    employee = get_employee(db, employee_id)
    if employee.restricted_at is None:
        raise ConflictError(_("Processing is not restricted."))
    if notified_at.tzinfo is None:
        raise ValidationError(_("The time of the notice must carry a time zone."))
    if notified_at > utcnow():
        raise ValidationError(_("The employee must have been told before the restriction ends."))
    # Dates, not instants: the page records the day the employee was told.
    restricted_on = employee.restricted_at.astimezone(notified_at.tzinfo).date()
    if notified_at.date() < restricted_on:
        raise ValidationError(
            _(
                "The employee cannot have been told that the restriction ends before it "
                "began (%(day)s).",
                day=f"{restricted_on:%Y-%m-%d}",
            ),
            details={"field": "notified_at"},
        )
    if method not in NOTICE_METHODS:
        raise ValidationError(
            _(
                "How the employee was told: one of %(methods)s.",
                methods=", ".join(NOTICE_METHODS),
            ),
            details={"field": "method"},
        )
    evidence_ref = (evidence_ref or "").strip() or None
    if evidence_ref is not None and (
        len(evidence_ref) > MAX_EVIDENCE_REF or not is_identifier(evidence_ref)
    ):
        # The reference is kept in the operation log, which holds no free text (#6).
        raise ValidationError(
            _(
                "The reference of the notice is a code such as a letter number: at most "
                "%(n)d letters, digits and _.:/+,- without spaces.",
                n=MAX_EVIDENCE_REF,
            ),
            details={"field": "evidence"},
        )
    employee.restricted_at = None
    db.flush()
    record_event(
        db,
        "employee.restriction_lifted",
        actor=actor,
        object_type="employee",
        object_id=employee.id,
        subject_employee_id=employee.id,
        details={
            "notified_at": notified_at.isoformat(timespec="seconds"),
            "method": method,
            "evidence": evidence_ref,
        },
    )
    return len(distribution.put_everywhere(db, employee, cause="restriction_lifted"))
