# SPDX-License-Identifier: GPL-2.0-or-later
"""The request register: lifecycle, extensions, refusals on legal grounds, overdue alerts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.audit.services import Actor
from server.db import utcnow
from server.employees.models import Employee
from server.errors import ConflictError, NotFoundError, ValidationError
from server.organization.models import OrganizationSettings
from server.rights import services
from server.rights.models import RequestStatus, SubjectRequest

ACTOR = Actor.system("test")


@pytest.fixture
def employee(db: Session) -> Employee:
    e = Employee(employee_code="E1", given_name="Mira", family_name="Okafor")
    db.add(e)
    db.flush()
    return e


@pytest.fixture
def no_commit(db: Session, monkeypatch: pytest.MonkeyPatch) -> Session:
    """Services flush and never commit: a commit inside one fails the test."""

    def refuse() -> None:
        raise AssertionError("a service committed")

    monkeypatch.setattr(db, "commit", refuse)
    return db


def jurisdiction(db: Session, key: str) -> None:
    org = db.get(OrganizationSettings, 1)
    if org is None:
        db.add(OrganizationSettings(id=1, name="Org", default_timezone="UTC", jurisdiction=key))
    else:
        org.jurisdiction = key
    db.flush()


def test_a_request_gets_the_deadline_of_the_organizations_profile_and_is_logged(
    no_commit: Session, employee: Employee
) -> None:
    jurisdiction(no_commit, "pipl")
    received = utcnow() - timedelta(days=2)
    req = services.receive_request(
        no_commit, employee_id=employee.id, kind="access", actor=ACTOR, received_at=received
    )
    assert (req.status, req.jurisdiction) == ("received", "pipl")
    assert req.due_at == received + timedelta(days=30)
    event = no_commit.scalars(select(AuditEvent).where(AuditEvent.action == "request.received"))
    assert event.one().subject_employee_id == employee.id


def test_bad_requests_are_refused_and_change_nothing(db: Session, employee: Employee) -> None:
    with pytest.raises(ValidationError):
        services.receive_request(db, employee_id=employee.id, kind="gossip", actor=ACTOR)
    with pytest.raises(NotFoundError):
        services.receive_request(db, employee_id=999_999, kind="access", actor=ACTOR)
    with pytest.raises(ValidationError):
        services.receive_request(
            db,
            employee_id=employee.id,
            kind="access",
            actor=ACTOR,
            received_at=utcnow() + timedelta(days=3),
        )
    assert db.scalars(select(SubjectRequest)).all() == []


def test_a_refusal_needs_a_legal_ground_and_a_text_for_the_employee(
    no_commit: Session, employee: Employee
) -> None:
    req = services.receive_request(no_commit, employee_id=employee.id, kind="erasure", actor=ACTOR)
    with pytest.raises(ValidationError, match="needs its legal ground"):
        services.refuse_request(
            no_commit, req.id, reason=None, text_for_employee="No.", actor=ACTOR
        )
    with pytest.raises(ValidationError, match="not a legal ground"):
        services.refuse_request(
            no_commit, req.id, reason="busy", text_for_employee="No.", actor=ACTOR
        )
    with pytest.raises(ValidationError, match="text the employee receives"):
        services.refuse_request(
            no_commit, req.id, reason="legal_obligation", text_for_employee="  ", actor=ACTOR
        )
    assert req.status == RequestStatus.RECEIVED
    services.refuse_request(
        no_commit,
        req.id,
        reason="legal_obligation",
        text_for_employee="Time records are kept two years by law; you may complain to the "
        "supervisory authority.",
        actor=ACTOR,
    )
    assert (req.status, req.refusal_reason) == ("refused", "legal_obligation")
    assert req.closed_at is not None
    with pytest.raises(ConflictError):
        services.complete_request(no_commit, req.id, actor=ACTOR)


def test_the_lifecycle_runs_from_received_to_completed(
    no_commit: Session, employee: Employee
) -> None:
    req = services.receive_request(
        no_commit, employee_id=employee.id, kind="consent_withdrawal", actor=ACTOR
    )
    with pytest.raises(ConflictError):
        services.start_work(no_commit, req.id, actor=ACTOR)  # identity first
    with pytest.raises(ValidationError):
        services.verify_identity(no_commit, req.id, method="astrology", actor=ACTOR)
    services.verify_identity(no_commit, req.id, method="in_person", actor=ACTOR)
    services.start_work(no_commit, req.id, actor=ACTOR)
    services.wait_for_terminals(no_commit, req.id, actor=ACTOR)
    services.complete_request(no_commit, req.id, actor=ACTOR)
    assert req.status == RequestStatus.COMPLETED
    actions = no_commit.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.object_id == str(req.id))
        .order_by(AuditEvent.seq)
    ).all()
    assert actions == [
        "request.received",
        "request.identity_verified",
        "request.started",
        "request.waiting_for_terminals",
        "request.completed",
    ]


def test_a_gdpr_extension_needs_a_reason_and_a_notice_before_the_first_deadline(
    db: Session, employee: Employee
) -> None:
    jurisdiction(db, "gdpr")
    received = datetime(2026, 1, 31, 10, tzinfo=UTC)
    req = services.receive_request(
        db, employee_id=employee.id, kind="copy", actor=ACTOR, received_at=received
    )
    assert req.due_at == datetime(2026, 2, 28, 10, tzinfo=UTC)
    inside = datetime(2026, 2, 20, tzinfo=UTC)
    with pytest.raises(ValidationError):
        services.extend_request(db, req.id, reason="", notified_at=inside, actor=ACTOR, now=inside)
    late = datetime(2026, 3, 2, tzinfo=UTC)
    with pytest.raises(ConflictError, match="before the first deadline"):
        services.extend_request(
            db, req.id, reason="Many terminals offline", notified_at=late, actor=ACTOR, now=late
        )
    services.extend_request(
        db, req.id, reason="Many terminals offline", notified_at=inside, actor=ACTOR, now=inside
    )
    assert req.due_at == datetime(2026, 4, 28, 10, tzinfo=UTC)
    # an extension is no step of the work: the request still waits for its verification
    assert (req.status, req.extended_at) == (RequestStatus.RECEIVED, inside)
    with pytest.raises(ConflictError, match="already extended"):
        services.extend_request(
            db, req.id, reason="again", notified_at=inside, actor=ACTOR, now=inside
        )


def test_profiles_without_extensions_refuse_one(db: Session, employee: Employee) -> None:
    jurisdiction(db, "lgpd")
    req = services.receive_request(db, employee_id=employee.id, kind="access", actor=ACTOR)
    with pytest.raises(ConflictError, match="allows no extension"):
        services.extend_request(db, req.id, reason="busy", notified_at=utcnow(), actor=ACTOR)


def test_overdue_and_soon_due_requests_are_listed_for_the_dashboard(
    db: Session, employee: Employee
) -> None:
    jurisdiction(db, "custom")  # 7 days, reminder 2 days before
    now = utcnow()
    overdue = services.receive_request(
        db, employee_id=employee.id, kind="access", actor=ACTOR, received_at=now - timedelta(days=8)
    )
    soon = services.receive_request(
        db, employee_id=employee.id, kind="access", actor=ACTOR, received_at=now - timedelta(days=6)
    )
    services.receive_request(
        db, employee_id=employee.id, kind="access", actor=ACTOR, received_at=now - timedelta(days=1)
    )
    done = services.receive_request(
        db, employee_id=employee.id, kind="access", actor=ACTOR, received_at=now - timedelta(days=9)
    )
    services.refuse_request(
        db, done.id, reason="abuse_of_rights", text_for_employee="x", actor=ACTOR
    )
    listed = {d.request_id: d.overdue for d in services.deadlines(db, now)}
    assert listed == {overdue.id: True, soon.id: False}


def test_the_register_exports_stable_columns_and_no_free_text(
    db: Session, employee: Employee
) -> None:
    req = services.receive_request(db, employee_id=employee.id, kind="erasure", actor=ACTOR)
    services.refuse_request(
        db, req.id, reason="trade_secrets", text_for_employee="CANARY-REFUSAL-TEXT", actor=ACTOR
    )
    text = services.register_csv(db, actor=ACTOR)
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == services.REGISTER_COLUMNS
    assert rows[1][:4] == [str(req.id), str(employee.id), "erasure", "refused"]
    assert "CANARY-REFUSAL-TEXT" not in text
    assert "Okafor" not in text


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("erasure", "completes when its erasure does"),
        ("access", "Prepare the employee's package"),
        ("copy", "Prepare the employee's package"),
        ("restriction", "Restrict processing"),
    ],
)
def test_a_request_rollcall_answers_completes_only_once_answered(
    no_commit: Session, employee: Employee, kind: str, message: str
) -> None:
    req = services.receive_request(no_commit, employee_id=employee.id, kind=kind, actor=ACTOR)
    services.verify_identity(no_commit, req.id, method="in_person", actor=ACTOR)
    services.start_work(no_commit, req.id, actor=ACTOR)
    with pytest.raises(ConflictError, match=message):
        services.complete_request(no_commit, req.id, actor=ACTOR)
    assert req.status == RequestStatus.IN_PROGRESS
    if kind == "restriction":
        from server.rights.restriction import GROUNDS, restrict_employee

        restrict_employee(no_commit, employee.id, reason=GROUNDS[0], request_id=req.id, actor=ACTOR)
        services.complete_request(no_commit, req.id, actor=ACTOR)
        assert req.status == RequestStatus.COMPLETED


def test_a_request_whose_package_was_prepared_is_not_refused(
    db: Session, employee: Employee, tmp_path: Path
) -> None:
    from server.rights.access import build_access_package
    from server.rights.downloads import create_download

    req = services.receive_request(db, employee_id=employee.id, kind="access", actor=ACTOR)
    services.verify_identity(db, req.id, method="in_person", actor=ACTOR)
    services.start_work(db, req.id, actor=ACTOR)
    create_download(
        db,
        data_dir=tmp_path,
        employee_id=employee.id,
        kind="access",
        content=build_access_package(db, employee.id, actor=ACTOR).to_zip(),
        content_type="application/zip",
        suffix="zip",
        actor=ACTOR,
        request_id=req.id,
    )
    with pytest.raises(ConflictError, match="package was prepared"):
        services.refuse_request(
            db, req.id, reason="abuse_of_rights", text_for_employee="No.", actor=ACTOR
        )
    services.complete_request(db, req.id, actor=ACTOR)
    assert req.status == RequestStatus.COMPLETED
