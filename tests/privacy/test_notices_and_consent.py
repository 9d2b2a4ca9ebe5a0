# SPDX-License-Identifier: GPL-2.0-or-later
"""Notices, the biometrics switch, consents and the consent gate (issue #5, C1, C3, C4)."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from biometrics.gate import RefusalReason, check_admission
from server.audit.models import AuditEvent
from server.db import utcnow
from server.errors import ConflictError, ValidationError
from server.privacy import services
from server.privacy.services import DbConsentReader
from tests.enrolment.helpers import (
    ACTOR,
    consent,
    employee,
    no_commit,
    organization,
    published_notice,
    ready_organization,
)

TODAY = date.today()


def actions(db: Session) -> list[str]:
    return list(db.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def reason(db: Session, employee_id: int) -> RefusalReason | None:
    return check_admission(employee_id, on=TODAY, consents=DbConsentReader(db)).reason


def test_a_published_notice_is_hashed_and_cannot_be_edited(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = no_commit(db, monkeypatch)
    notice = published_notice(db, body="Line one  \r\nLine two")
    canonical = services.canonical_notice_text(notice.title, notice.body, "Until withdrawal")
    assert notice.content_sha256 == hashlib.sha256(canonical.encode()).hexdigest()
    assert '"Line one\\nLine two"' in canonical
    with pytest.raises(ConflictError):
        services.update_notice_draft(
            db, notice.id, title="x", body="changed", retention_schedule="y", actor=ACTOR
        )
    with pytest.raises(ConflictError):
        services.publish_notice(db, notice.id, actor=ACTOR)
    assert "notice.published" in actions(db)


def test_a_new_version_supersedes_the_current_notice_once_published(db: Session) -> None:
    first = published_notice(db)
    draft = services.create_notice_draft(
        db, title="Biometrics", body="v2", retention_schedule="r", actor=ACTOR
    )
    assert draft.version == first.version + 1
    assert services.current_notice(db) == first
    services.publish_notice(db, draft.id, effective_at=utcnow() - timedelta(seconds=1), actor=ACTOR)
    assert services.current_notice(db) == draft


def test_enabling_biometrics_without_a_published_notice_is_refused(db: Session) -> None:
    organization(db)
    services.create_notice_draft(db, title="t", body="b", retention_schedule="r", actor=ACTOR)
    with pytest.raises(ConflictError) as caught:
        services.set_biometrics_enabled(db, True, actor=ACTOR)
    assert caught.value.status == 409
    published_notice(db)
    assert services.set_biometrics_enabled(db, True, actor=ACTOR).biometrics_enabled


def test_consent_can_only_be_given_to_a_published_notice_and_a_guardian_must_be_named(
    db: Session,
) -> None:
    organization(db)
    e = employee(db, "C1")
    draft = services.create_notice_draft(
        db, title="t", body="b", retention_schedule="r", actor=ACTOR
    )
    with pytest.raises(ValidationError):
        consent(db, e, draft)
    notice = published_notice(db)
    with pytest.raises(ValidationError):
        consent(db, e, notice, given_by="guardian", guardian_name="Rui Silva")


def test_the_gate_refuses_when_biometrics_are_disabled_or_the_birth_date_is_missing(
    db: Session,
) -> None:
    organization(db)
    notice = published_notice(db)
    e = employee(db, "G1")
    consent(db, e, notice)
    assert reason(db, e.id) is RefusalReason.BIOMETRICS_DISABLED
    services.set_biometrics_enabled(db, True, actor=ACTOR)
    assert reason(db, e.id) is None
    e.date_of_birth = None
    assert reason(db, e.id) is RefusalReason.NO_DATE_OF_BIRTH


def test_the_gate_refuses_without_consent_and_after_withdrawal(db: Session) -> None:
    notice = ready_organization(db)
    e = employee(db, "G2")
    assert reason(db, e.id) is RefusalReason.NO_CONSENT
    consent(db, e, notice)
    assert reason(db, e.id) is None
    services.withdraw_consent(
        db,
        employee_id=e.id,
        withdrawn_at=utcnow(),
        method="in_person",
        evidence_ref=None,
        actor=ACTOR,
    )
    assert reason(db, e.id) is RefusalReason.WITHDRAWN


def test_the_gate_refuses_consent_given_to_a_superseded_notice(db: Session) -> None:
    old = ready_organization(db)
    e = employee(db, "G3")
    consent(db, e, old)
    published_notice(db, body="v2")
    assert reason(db, e.id) is RefusalReason.SUPERSEDED_NOTICE


def test_the_gate_wants_a_guardian_for_a_minor_and_admits_with_one(db: Session) -> None:
    notice = ready_organization(db)
    minor = employee(db, "G4", date_of_birth=TODAY.replace(year=TODAY.year - 15))
    consent(db, minor, notice)
    assert reason(db, minor.id) is RefusalReason.MINOR_WITHOUT_GUARDIAN
    consent(
        db,
        minor,
        notice,
        given_by="guardian",
        guardian_name="Rui Silva",
        guardian_relation="father",
        given_at=utcnow(),
    )
    assert reason(db, minor.id) is None
    status = services.consent_status(db, minor.id, on=TODAY)
    assert (status.minor, status.guardian_consent, status.admissible) == (True, True, True)


def test_consent_status_says_what_is_missing(db: Session) -> None:
    ready_organization(db)
    e = employee(db, "S1", date_of_birth=None)
    status = services.consent_status(db, e.id, on=TODAY)
    assert status.date_of_birth_missing
    assert status.minor is None
    assert not status.admissible
    assert status.refusal == "no_date_of_birth"


def test_consent_events_carry_identifiers_not_names(db: Session) -> None:
    notice = ready_organization(db)
    e = employee(db, "A1", date_of_birth=TODAY.replace(year=TODAY.year - 10))
    consent(
        db, e, notice, given_by="guardian", guardian_name="Zephyrine Q", guardian_relation="aunt"
    )
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "consent.recorded")).one()
    assert "Zephyrine" not in repr(event.details)
    assert event.subject_employee_id == e.id
