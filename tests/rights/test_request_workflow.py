# SPDX-License-Identifier: GPL-2.0-or-later
"""The request register's workflow rules (#7 review): nothing is done before the identity is
verified, an extension is no step around it, an erased request cannot be refused, and the
register records who verified and when the employee was told."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, Table, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from server import migrate
from server.audit.models import AuditEvent
from server.audit.services import Actor
from server.db import make_engine, utcnow
from server.devices.models import Terminal
from server.employees.models import Employee
from server.errors import ConflictError, ValidationError
from server.organization.models import OrganizationSettings
from server.rights import erasure
from server.rights import services as register
from server.rights.models import ErasureRun, RequestStatus, SubjectRequest
from tests.conftest import system_timezone

ACTOR = Actor.system("test")


@pytest.fixture
def employee(db: Session) -> Employee:
    e = Employee(employee_code="E31", given_name="Lin", family_name="Wen")
    db.add(e)
    db.flush()
    return e


def gdpr(db: Session) -> None:
    if db.get(OrganizationSettings, 1) is None:
        db.add(OrganizationSettings(id=1, name="Org", default_timezone="UTC", jurisdiction="gdpr"))
    db.flush()


def offline_terminal(db: Session) -> Terminal:
    """A terminal that never answers: an erasure waits for it."""
    terminal = Terminal(
        serial_number="OFFLINE1",
        name="Gate",
        host="127.0.0.1",
        port=1,
        transport="tcp",
        timezone=system_timezone(),
        encoding="utf-8",
        capabilities={},
    )
    db.add(terminal)
    db.flush()
    return terminal


def waiting_erasure(
    db: Session, sessions: sessionmaker[Session], employee: Employee, data_dir: Path
) -> SubjectRequest:
    offline_terminal(db)
    req = register.receive_request(db, employee_id=employee.id, kind="erasure", actor=ACTOR)
    register.verify_identity(db, req.id, method="in_person", actor=ACTOR)
    register.start_work(db, req.id, actor=ACTOR)
    run = erasure.start_erasure(db, req.id, actor=ACTOR)
    db.commit()
    outcome = erasure.run_erasure(sessions, run.id, data_dir=data_dir, actor=ACTOR)
    assert outcome.state == "waiting_for_terminals"
    db.expire_all()
    assert req.status == RequestStatus.WAITING_FOR_TERMINALS
    return req


# --------------------------------------------------------------------------- identity first
def test_an_extension_is_no_way_around_verifying_the_identity(
    db: Session, employee: Employee
) -> None:
    gdpr(db)
    req = register.receive_request(db, employee_id=employee.id, kind="erasure", actor=ACTOR)
    register.extend_request(db, req.id, reason="Busy season", notified_at=utcnow(), actor=ACTOR)
    assert req.extended_at is not None
    assert req.status == RequestStatus.RECEIVED  # still to be verified
    with pytest.raises(ConflictError):
        register.start_work(db, req.id, actor=ACTOR)
    with pytest.raises(ConflictError):
        erasure.start_erasure(db, req.id, actor=ACTOR)
    assert db.scalar(select(func.count()).select_from(ErasureRun)) == 0
    register.verify_identity(db, req.id, method="document", actor=ACTOR)
    register.start_work(db, req.id, actor=ACTOR)
    assert req.status == RequestStatus.IN_PROGRESS
    assert req.extended_at is not None


def test_an_extension_keeps_a_started_request_started(db: Session, employee: Employee) -> None:
    gdpr(db)
    req = register.receive_request(db, employee_id=employee.id, kind="objection", actor=ACTOR)
    register.verify_identity(db, req.id, method="in_person", actor=ACTOR)
    register.start_work(db, req.id, actor=ACTOR)
    register.extend_request(db, req.id, reason="Many records", notified_at=utcnow(), actor=ACTOR)
    assert req.status == RequestStatus.IN_PROGRESS
    register.complete_request(db, req.id, actor=ACTOR)
    assert req.status == RequestStatus.COMPLETED


@pytest.mark.parametrize("status", ["in_progress", "waiting_for_terminals"])
def test_no_work_is_done_on_a_request_whose_identity_is_not_verified(
    db: Session, employee: Employee, status: str
) -> None:
    """Even a request that reached a working state some other way (an older version let an
    extension skip the verification) is not worked on nor completed unverified."""
    req = register.receive_request(db, employee_id=employee.id, kind="access", actor=ACTOR)
    req.status = status
    db.flush()
    with pytest.raises(ConflictError, match="identity is not verified"):
        register.complete_request(db, req.id, actor=ACTOR)
    with pytest.raises(ConflictError, match="identity is not verified"):
        register.require_work(db, req.id, action="answered")
    assert (req.status, req.closed_at) == (status, None)


def test_work_needs_the_request_started_and_of_the_right_kind(
    db: Session, employee: Employee
) -> None:
    req = register.receive_request(db, employee_id=employee.id, kind="access", actor=ACTOR)
    register.verify_identity(db, req.id, method="in_person", actor=ACTOR)
    with pytest.raises(ConflictError, match="Identity verified"):
        register.require_work(db, req.id, action="answered")
    register.start_work(db, req.id, actor=ACTOR)
    assert register.require_work(db, req.id, action="answered") is req
    with pytest.raises(ValidationError, match="access request"):
        register.require_work(db, req.id, kinds=(register.RequestKind.ERASURE,), action="erased")


# --------------------------------------------------------------------------- extensions
def test_a_request_waiting_for_terminals_can_be_extended_and_keeps_waiting(
    db: Session, sessions: sessionmaker[Session], employee: Employee, tmp_path: Path
) -> None:
    gdpr(db)
    req = waiting_erasure(db, sessions, employee, tmp_path)
    first_due = req.due_at
    register.extend_request(
        db, req.id, reason="A terminal is offline", notified_at=utcnow(), actor=ACTOR
    )
    assert req.status == RequestStatus.WAITING_FOR_TERMINALS
    assert req.due_at > first_due


def test_the_extension_notice_is_not_dated_before_the_request_nor_in_the_future(
    db: Session, employee: Employee
) -> None:
    gdpr(db)
    received = datetime(2026, 2, 10, 9, tzinfo=UTC)
    req = register.receive_request(
        db, employee_id=employee.id, kind="copy", actor=ACTOR, received_at=received
    )
    now = datetime(2026, 2, 20, 9, tzinfo=UTC)
    for told in (datetime(2026, 2, 9, 12, tzinfo=UTC), datetime(2026, 2, 21, 12, tzinfo=UTC)):
        with pytest.raises(ValidationError) as caught:
            register.extend_request(
                db, req.id, reason="Many records", notified_at=told, actor=ACTOR, now=now
            )
        assert caught.value.details == {"field": "notified_at"}
    assert req.extended_at is None
    # the day it was received is fine, whatever the hour the form records
    register.extend_request(
        db,
        req.id,
        reason="Many records",
        notified_at=datetime(2026, 2, 10, 8, tzinfo=UTC),
        actor=ACTOR,
        now=now,
    )
    assert req.extension_notified_at == datetime(2026, 2, 10, 8, tzinfo=UTC)


# --------------------------------------------------------------------------- refusals
def test_a_request_whose_erasure_has_started_cannot_be_refused(
    db: Session, sessions: sessionmaker[Session], employee: Employee, tmp_path: Path
) -> None:
    req = waiting_erasure(db, sessions, employee, tmp_path)
    events = db.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(ConflictError, match="erasure has started"):
        register.refuse_request(
            db, req.id, reason="legal_obligation", text_for_employee="No.", actor=ACTOR
        )
    assert (req.status, req.refusal_reason, req.closed_at) == ("waiting_for_terminals", None, None)
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_an_unverified_requester_may_be_refused_on_that_ground_only_while_unverified(
    db: Session, employee: Employee
) -> None:
    unverified = register.receive_request(db, employee_id=employee.id, kind="access", actor=ACTOR)
    register.refuse_request(
        db,
        unverified.id,
        reason="identity_not_verified",
        text_for_employee="We could not confirm it was you; you may complain to the authority.",
        actor=ACTOR,
    )
    assert (unverified.status, unverified.refusal_reason) == ("refused", "identity_not_verified")
    verified = register.receive_request(db, employee_id=employee.id, kind="access", actor=ACTOR)
    register.verify_identity(db, verified.id, method="in_person", actor=ACTOR)
    with pytest.raises(ValidationError, match="identity was verified"):
        register.refuse_request(
            db, verified.id, reason="identity_not_verified", text_for_employee="No.", actor=ACTOR
        )
    assert verified.status == RequestStatus.IDENTITY_VERIFIED


# --------------------------------------------------------------------------- the register
def test_the_register_says_who_verified_the_identity_and_how(
    db: Session, employee: Employee, create_account: Callable[..., Any]
) -> None:
    officer = create_account(username="dpo2", role="privacy_officer")
    req = register.receive_request(db, employee_id=employee.id, kind="access", actor=ACTOR)
    register.verify_identity(db, req.id, method="known_channel", actor=Actor("account", officer.id))
    rows = list(csv.DictReader(io.StringIO(register.register_csv(db, actor=ACTOR))))
    assert rows[0]["identity_method"] == "known_channel"
    assert rows[0]["identity_verified_by_id"] == str(officer.id)
    assert "dpo2" not in register.register_csv(db, actor=ACTOR)  # identifiers only


# --------------------------------------------------------------------------- migration
def _fill(table: Table, **values: Any) -> dict[str, Any]:
    """A row with every NOT NULL column given something acceptable."""
    row: dict[str, Any] = {}
    for column in table.c:
        if column.name in values or column.nullable or column.primary_key:
            continue
        python = column.type.python_type
        if python is datetime:
            row[column.name] = datetime(2026, 1, 5, 8, tzinfo=UTC)
        elif python is int:
            row[column.name] = 0
        elif python is bool:
            row[column.name] = False
        elif python is dict:
            row[column.name] = {}
        else:
            row[column.name] = "x"
    row.update(values)
    return row


def test_a_request_an_older_version_left_extended_goes_back_to_where_it_was(
    fresh_database: Callable[[], str],
) -> None:
    url = fresh_database()
    migrate.upgrade(url, "0011")
    engine = make_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        employees, requests, events = (
            meta.tables[n] for n in ("employees", "subject_requests", "audit_events")
        )
        when = datetime(2026, 1, 5, 8, tzinfo=UTC)
        with engine.begin() as conn:
            conn.execute(
                insert(employees).values(
                    _fill(employees, id=1, status="active", verify_mode="fingerprint")
                )
            )
            for rid, verified in ((1, None), (2, when), (3, when)):
                conn.execute(
                    insert(requests).values(
                        _fill(
                            requests,
                            id=rid,
                            employee_id=1,
                            kind="access",
                            status="extended",
                            jurisdiction="gdpr",
                            identity_verified_at=verified,
                            extended_at=when,
                        )
                    )
                )
            conn.execute(
                insert(events).values(
                    _fill(
                        events,
                        seq=1,
                        action="request.started",
                        object_type="subject_request",
                        object_id="3",
                    )
                )
            )
        migrate.upgrade(url)
        with engine.connect() as conn:
            got = dict(conn.execute(text("SELECT id, status FROM subject_requests")).all())
        assert got == {1: "received", 2: "identity_verified", 3: "in_progress"}
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- command line
def test_rollcall_rights_erase_run_again_resumes_an_erasure_waiting_for_terminals(
    cli_instance: tuple[Path, str],
) -> None:
    from server.settings import load_settings
    from tests.conftest import run

    home, _ = cli_instance
    engine = make_engine(load_settings(home, environ={}).database_url)
    with sessionmaker(engine)() as db:
        e = Employee(employee_code="7009", given_name="Rita", family_name="Vaz")
        db.add(e)
        offline_terminal(db)
        req = register.receive_request(db, employee_id=e.id, kind="erasure", actor=ACTOR)
        register.verify_identity(db, req.id, method="in_person", actor=ACTOR)
        register.start_work(db, req.id, actor=ACTOR)
        db.commit()
        request_id = req.id
    engine.dispose()
    first = run(home, "rights", "erase", str(request_id))
    assert first.returncode == 0, first.stderr
    assert "waiting for 1 terminal(s) to confirm: OFFLINE1" in first.stdout
    again = run(home, "rights", "erase", str(request_id))
    assert again.returncode == 0, again.stderr
    assert "waiting for 1 terminal(s) to confirm: OFFLINE1" in again.stdout
