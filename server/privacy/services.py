# SPDX-License-Identifier: GPL-2.0-or-later
"""Biometric notices, consents and their withdrawal (issue #5, C1, C3, C4).

Services flush and audit; the caller commits. Audit details carry identifiers only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from biometrics.gate import check_admission
from biometrics.ports import ConsentFact
from server.audit.services import Actor, record_event
from server.db import utcnow
from server.employees.models import Employee, age_on
from server.errors import ConflictError, NotFoundError, ValidationError
from server.organization.models import OrganizationSettings
from server.privacy.models import BiometricNotice, Consent, ConsentMethod

GIVEN_BY = ("employee", "guardian")


def canonical_notice_text(title: str, body: str, retention_schedule: str) -> str:
    """The text a notice's hash covers: newlines normalized, trailing blanks removed."""

    def norm(text: str) -> str:
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return "\n".join(line.rstrip() for line in lines).strip("\n")

    return json.dumps(
        {"title": norm(title), "body": norm(body), "retention_schedule": norm(retention_schedule)},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _notice(db: Session, notice_id: int) -> BiometricNotice:
    notice = db.get(BiometricNotice, notice_id)
    if notice is None:
        raise NotFoundError(_("No such notice."))
    return notice


def create_notice_draft(
    db: Session, *, title: str, body: str, retention_schedule: str, actor: Actor
) -> BiometricNotice:
    """Add the next version of the notice, unpublished."""
    if not title.strip() or not body.strip() or not retention_schedule.strip():
        raise ValidationError(_("A notice needs a title, a body and a retention schedule."))
    last = db.scalar(select(func.max(BiometricNotice.version)))
    notice = BiometricNotice(
        version=(last or 0) + 1, title=title, body=body, retention_schedule=retention_schedule
    )
    db.add(notice)
    db.flush()
    record_event(
        db,
        "notice.created",
        actor=actor,
        object_type="biometric_notice",
        object_id=notice.id,
        details={"version": notice.version},
    )
    return notice


def update_notice_draft(
    db: Session,
    notice_id: int,
    *,
    title: str,
    body: str,
    retention_schedule: str,
    actor: Actor,
) -> BiometricNotice:
    """Edit a draft. A published notice never changes: publish a new version instead."""
    notice = _notice(db, notice_id)
    if notice.published_at is not None:
        raise ConflictError(
            _("A published notice cannot be changed; create a new version."),
            code="notice_published",
        )
    notice.title, notice.body, notice.retention_schedule = title, body, retention_schedule
    db.flush()
    record_event(
        db,
        "notice.updated",
        actor=actor,
        object_type="biometric_notice",
        object_id=notice.id,
        details={"version": notice.version},
    )
    return notice


def publish_notice(
    db: Session, notice_id: int, *, effective_at: datetime | None = None, actor: Actor
) -> BiometricNotice:
    """Freeze a draft: hash its canonical text and set when it takes effect."""
    notice = _notice(db, notice_id)
    if notice.published_at is not None:
        raise ConflictError(_("This notice is already published."), code="notice_published")
    now = utcnow()
    canonical = canonical_notice_text(notice.title, notice.body, notice.retention_schedule)
    notice.content_sha256 = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    notice.published_at = now
    notice.effective_at = effective_at or now
    db.flush()
    record_event(
        db,
        "notice.published",
        actor=actor,
        object_type="biometric_notice",
        object_id=notice.id,
        details={"version": notice.version, "content_sha256": notice.content_sha256},
    )
    return notice


def current_notice(db: Session, *, at: datetime | None = None) -> BiometricNotice | None:
    """The published notice in force at ``at`` (now): the highest effective version."""
    at = at or utcnow()
    return db.scalars(
        select(BiometricNotice)
        .where(BiometricNotice.published_at.is_not(None), BiometricNotice.effective_at <= at)
        .order_by(BiometricNotice.version.desc())
        .limit(1)
    ).first()


def _organization(db: Session) -> OrganizationSettings:
    org = db.get(OrganizationSettings, 1)
    if org is None:
        raise ConflictError(_("The organization is not set up yet."), code="no_organization")
    return org


def set_biometrics_enabled(db: Session, enabled: bool, *, actor: Actor) -> OrganizationSettings:
    """Switch biometrics on (only with a published notice in force) or off."""
    org = _organization(db)
    if enabled and current_notice(db) is None:
        raise ConflictError(
            _("Publish a biometric privacy notice before enabling biometrics."),
            code="no_published_notice",
        )
    org.biometrics_enabled = enabled
    db.flush()
    record_event(
        db,
        "biometrics.enabled" if enabled else "biometrics.disabled",
        actor=actor,
        object_type="organization_settings",
        object_id=org.id,
    )
    return org


def _check_method(method: str) -> str:
    try:
        return ConsentMethod(method).value
    except ValueError:
        raise ValidationError(_("Unknown consent method.")) from None


def record_consent(
    db: Session,
    *,
    employee_id: int,
    notice_version: int,
    given_at: datetime,
    method: str,
    evidence_ref: str | None,
    given_by: str = "employee",
    guardian_name: str | None = None,
    guardian_relation: str | None = None,
    actor: Actor,
) -> Consent:
    """Record consent given against a published notice version; a guardian must be named.

    ``actor.account_id`` is recorded as who entered it. The guardian's evidence is the
    ``evidence_ref`` (scanned form, e-signature id).
    """
    if db.get(Employee, employee_id) is None:
        raise NotFoundError(_("No such employee."))
    notice = db.scalars(
        select(BiometricNotice).where(BiometricNotice.version == notice_version)
    ).first()
    if notice is None or notice.published_at is None:
        raise ValidationError(_("Consent can only be given to a published notice."))
    if given_by not in GIVEN_BY:
        raise ValidationError(_("Consent is given by the employee or a guardian."))
    if given_by == "guardian" and not (
        guardian_name and guardian_name.strip() and guardian_relation and evidence_ref
    ):
        raise ValidationError(_("A guardian's consent needs their name, relation and evidence."))
    if given_at.tzinfo is None:
        raise ValidationError(_("The time consent was given must carry a time zone."))
    consent = Consent(
        employee_id=employee_id,
        notice_id=notice.id,
        given_by=given_by,
        guardian_name=guardian_name if given_by == "guardian" else None,
        guardian_relation=guardian_relation if given_by == "guardian" else None,
        given_at=given_at,
        method=_check_method(method),
        evidence_ref=evidence_ref,
        recorded_by_id=actor.account_id,
    )
    db.add(consent)
    db.flush()
    record_event(
        db,
        "consent.recorded",
        actor=actor,
        object_type="consent",
        object_id=consent.id,
        subject_employee_id=employee_id,
        details={"notice_version": notice_version, "given_by": given_by, "method": method},
    )
    return consent


def withdraw_consent(
    db: Session,
    *,
    employee_id: int,
    withdrawn_at: datetime,
    method: str,
    evidence_ref: str | None,
    actor: Actor,
) -> list[Consent]:
    """Mark every active consent of the employee withdrawn; return those rows."""
    if withdrawn_at.tzinfo is None:
        raise ValidationError(_("The time of withdrawal must carry a time zone."))
    method = _check_method(method)
    active = list(
        db.scalars(
            select(Consent)
            .where(Consent.employee_id == employee_id, Consent.withdrawn_at.is_(None))
            .order_by(Consent.id)
        )
    )
    for consent in active:
        consent.withdrawn_at = withdrawn_at
        consent.withdrawal_method = method
        consent.withdrawal_evidence_ref = evidence_ref
        consent.withdrawal_recorded_by_id = actor.account_id
    db.flush()
    record_event(
        db,
        "consent.withdrawn",
        actor=actor,
        object_type="employee",
        object_id=employee_id,
        subject_employee_id=employee_id,
        details={"consents": len(active), "method": method},
    )
    return active


def _latest_consent(db: Session, employee_id: int) -> tuple[Consent, int] | None:
    row = db.execute(
        select(Consent, BiometricNotice.version)
        .join(BiometricNotice, BiometricNotice.id == Consent.notice_id)
        .where(Consent.employee_id == employee_id)
        .order_by(Consent.given_at.desc(), Consent.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


class DbConsentReader:
    """:class:`biometrics.ports.ConsentReader` over the database session."""

    def __init__(self, db: Session) -> None:
        self._db = db

    def biometrics_enabled(self) -> bool:
        org = self._db.get(OrganizationSettings, 1)
        return bool(org and org.biometrics_enabled)

    def minor_age(self) -> int:
        org = self._db.get(OrganizationSettings, 1)
        return org.minor_age if org is not None else 18

    def age_on(self, employee_id: int, day: date) -> int | None:
        employee = self._db.get(Employee, employee_id)
        return None if employee is None else employee.age_on(day)

    def current_notice_version(self) -> int | None:
        notice = current_notice(self._db)
        return None if notice is None else notice.version

    def latest_consent(self, employee_id: int) -> ConsentFact | None:
        found = _latest_consent(self._db, employee_id)
        if found is None:
            return None
        consent, version = found
        return ConsentFact(
            notice_version=version,
            by_guardian=consent.given_by == "guardian",
            withdrawn=consent.withdrawn_at is not None,
        )


class BatchConsentReader:
    """:class:`biometrics.ports.ConsentReader` for a known set of employees, read in a few
    queries up front (the outbox decides for hundreds of people per batch)."""

    def __init__(self, db: Session, employee_ids: Sequence[int]) -> None:
        org = db.get(OrganizationSettings, 1)
        self._enabled = bool(org and org.biometrics_enabled)
        self._minor_age = org.minor_age if org is not None else 18
        notice = current_notice(db)
        self._current = None if notice is None else notice.version
        ids = sorted(set(employee_ids))
        self._dob: dict[int, date | None] = {}
        self._facts: dict[int, ConsentFact] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for eid, dob in db.execute(
                select(Employee.id, Employee.date_of_birth).where(Employee.id.in_(chunk))
            ).all():
                self._dob[eid] = dob
            rows = db.execute(
                select(Consent, BiometricNotice.version)
                .join(BiometricNotice, BiometricNotice.id == Consent.notice_id)
                .where(Consent.employee_id.in_(chunk))
                .order_by(Consent.employee_id, Consent.given_at, Consent.id)
            ).all()
            for consent, version in rows:  # the last one per employee wins, as in _latest
                self._facts[consent.employee_id] = ConsentFact(
                    notice_version=version,
                    by_guardian=consent.given_by == "guardian",
                    withdrawn=consent.withdrawn_at is not None,
                )

    def biometrics_enabled(self) -> bool:
        return self._enabled

    def minor_age(self) -> int:
        return self._minor_age

    def age_on(self, employee_id: int, day: date) -> int | None:
        return age_on(self._dob.get(employee_id), day)

    def current_notice_version(self) -> int | None:
        return self._current

    def latest_consent(self, employee_id: int) -> ConsentFact | None:
        return self._facts.get(employee_id)


@dataclass(frozen=True, slots=True)
class ConsentStatus:
    """Where an employee stands on biometric consent on a given day."""

    employee_id: int
    active_for_current_notice: bool
    minor: bool | None  # None: no date of birth
    guardian_consent: bool
    date_of_birth_missing: bool
    admissible: bool
    refusal: str | None


def consent_status(db: Session, employee_id: int, *, on: date) -> ConsentStatus:
    """Summarize the employee's consent as the gate sees it (no names, no free text)."""
    if db.get(Employee, employee_id) is None:
        raise NotFoundError(_("No such employee."))
    reader = DbConsentReader(db)
    fact = reader.latest_consent(employee_id)
    current = reader.current_notice_version()
    age = reader.age_on(employee_id, on)
    active = fact is not None and not fact.withdrawn and fact.notice_version == current
    admission = check_admission(employee_id, on=on, consents=reader)
    return ConsentStatus(
        employee_id=employee_id,
        active_for_current_notice=active,
        minor=None if age is None else age < reader.minor_age(),
        guardian_consent=active and fact is not None and fact.by_guardian,
        date_of_birth_missing=age is None,
        admissible=admission.admitted,
        refusal=None if admission.reason is None else admission.reason.value,
    )
