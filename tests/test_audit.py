# SPDX-License-Identifier: GPL-2.0-or-later
"""The operation log is a hash chain: alterations, deletions and truncation are found."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from server.audit.models import AuditEvent, AuditHead
from server.audit.services import (
    VERIFICATION_FILE,
    Actor,
    load_verification,
    record_event,
    verify_chain,
)
from server.db import make_engine, utcnow
from server.settings import load_settings
from tests.conftest import run

ACTOR = Actor("account", None, "192.0.2.10", "pytest")


def _write(db: Session, n: int) -> list[AuditEvent]:
    return [
        record_event(db, "employee.viewed", actor=ACTOR, object_type="employee", object_id=i)
        for i in range(n)
    ]


def test_a_clean_chain_verifies(db: Session) -> None:
    events = _write(db, 5)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[1].prev_hash == events[0].hash
    report = verify_chain(db)
    assert (report.ok, report.entries) == (True, 5)


def test_an_altered_entry_is_named(db: Session) -> None:
    _write(db, 5)
    db.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(object_id="999"))
    db.expire_all()
    report = verify_chain(db)
    assert (report.ok, report.first_broken_seq, report.reason) == (False, 3, "entry altered")


def test_a_deleted_entry_is_named(db: Session) -> None:
    _write(db, 5)
    db.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
    report = verify_chain(db)
    assert (report.ok, report.first_broken_seq, report.reason) == (False, 2, "entry missing")


def test_a_truncated_tail_is_found_against_the_head(db: Session) -> None:
    _write(db, 5)
    db.execute(delete(AuditEvent).where(AuditEvent.seq >= 4))
    report = verify_chain(db)
    assert (report.ok, report.first_broken_seq) == (False, 4)
    assert report.reason is not None
    assert "truncated" in report.reason


def test_a_rewritten_head_does_not_hide_a_truncation_of_the_whole_log(db: Session) -> None:
    _write(db, 3)
    db.execute(delete(AuditEvent))
    assert not verify_chain(db).ok
    db.execute(update(AuditHead).values(seq=0))
    assert not verify_chain(db).ok  # the hash no longer matches genesis


@pytest.mark.parametrize(
    "value",
    [
        b"\x01\x02template",
        {"nested": 1},
        ["a"],
        "x" * 121,
        "Ana Reis",
        "told her by phone, she agreed",
        "ana.reis@example.com",
        "line\nbreak",
        "<script>",
    ],
)
def test_details_hold_identifiers_only(db: Session, value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        record_event(db, "x", actor=ACTOR, details={"k": value})
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_a_free_text_detail_is_refused_without_repeating_it(db: Session) -> None:
    with pytest.raises(ValueError, match="not free text") as refused:
        record_event(db, "x", actor=ACTOR, details={"note": "Ana was late, doctor"})
    assert "Ana" not in str(refused.value)
    with pytest.raises(ValueError, match="plain name"):
        record_event(db, "x", actor=ACTOR, details={"the note": 1})


def test_identifiers_codes_times_and_lists_of_ids_are_accepted(db: Session) -> None:
    details = {
        "at": "2026-11-22T08:30:00+08:00",
        "departments": "3,7,12",
        "terminal": "CGXH201360012",
        "to": "192.0.2.7:4370",
        "rows.punches": 3,
        "reason": "wrong_state",
        "ok": True,
        "empty": "",
        "none": None,
    }
    event = record_event(db, "x", actor=ACTOR, details=details)
    assert event.details == details
    assert verify_chain(db).ok


def test_a_terminal_filter_typed_as_free_text_does_not_reach_the_log(db: Session) -> None:
    from server.attendance.services import PunchFilters

    typed = PunchFilters(terminal_serial="Front door, Ana's floor").audit_details()
    kept = PunchFilters(terminal_serial="CGXH201360012").audit_details()
    refused = record_event(db, "punches.exported", actor=ACTOR, details=typed)
    accepted = record_event(db, "punches.exported", actor=ACTOR, details=kept)
    assert refused.details["terminal"] == "not_a_serial"
    assert accepted.details["terminal"] == "CGXH201360012"


def test_a_lifted_restriction_keeps_the_notice_reference_only_as_a_code(db: Session) -> None:
    from server.employees.models import Employee
    from server.errors import ValidationError
    from server.rights.restriction import lift_restriction, restrict_employee

    person = Employee(employee_code="R1", given_name="Rosa", family_name="Lind")
    db.add(person)
    db.flush()
    restrict_employee(db, person.id, reason="accuracy_contested", actor=ACTOR)
    before = db.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(ValidationError, match="reference of the notice"):
        lift_restriction(
            db,
            person.id,
            notified_at=utcnow(),
            method="letter",
            evidence_ref="Letter to Rosa Lind, 3 May",
            actor=ACTOR,
        )
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == before
    assert db.get(Employee, person.id).restricted_at is not None  # type: ignore[union-attr]
    lift_restriction(
        db,
        person.id,
        notified_at=utcnow(),
        method="letter",
        evidence_ref=" L-2026/0042 ",
        actor=ACTOR,
    )
    entry = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "employee.restriction_lifted")
    ).one()
    assert entry.details["evidence"] == "L-2026/0042"
    assert entry.details["method"] == "letter"


@contextmanager
def _instance_db(home: Path) -> Iterator[Session]:
    """A transaction on a `rollcall init` instance's database, committed at the end."""
    engine = make_engine(load_settings(home, environ={}).database_url)
    try:
        with sessionmaker(engine).begin() as db:
            yield db
    finally:
        engine.dispose()


def _log_some(home: Path, n: int) -> None:
    with _instance_db(home) as db:
        for i in range(n):
            record_event(db, "test.event", actor=Actor.system("test"), details={"n": i})


def test_audit_verify_reports_the_first_altered_entry_and_keeps_anchors(
    cli_instance: tuple[Path, str],
) -> None:
    home, _ = cli_instance
    _log_some(home, 5)
    ok = run(home, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "The operation log is intact" in ok.stdout
    anchors = home / "data" / "audit-anchors.jsonl"
    assert anchors.stat().st_mode & 0o777 == 0o600
    again = run(home, "audit", "verify", "--no-anchor")
    assert "1 earlier anchor(s) matched" in again.stdout
    assert len(anchors.read_text().splitlines()) == 1

    with _instance_db(home) as db:
        db.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(action="edited"))
    kept = load_verification(home / "data" / VERIFICATION_FILE)
    assert kept is not None
    assert (kept.ok, kept.by_kind, kept.anchor_seq) == (True, "cli", None)  # --no-anchor
    broken = run(home, "audit", "verify")
    assert broken.returncode == 1
    assert "NOT intact: entry altered (first bad entry: 3" in broken.stderr
    # the page shows this result until a later check passes
    kept = load_verification(home / "data" / VERIFICATION_FILE)
    assert kept is not None
    assert (kept.ok, kept.first_broken_seq, kept.entries) == (False, 3, 2)
    assert kept.reason == "entry altered"
    assert (home / "data" / VERIFICATION_FILE).stat().st_mode & 0o777 == 0o600


def test_audit_verify_catches_a_log_cut_back_together_with_its_head(
    cli_instance: tuple[Path, str],
) -> None:
    home, _ = cli_instance
    _log_some(home, 6)
    assert run(home, "audit", "verify").returncode == 0
    # Someone with database access removes the last three entries and moves the head back,
    # so that the chain inside the database is consistent again.
    with _instance_db(home) as db:
        top = int(db.scalar(select(func.max(AuditEvent.seq))) or 0)
        keep = db.scalars(select(AuditEvent).where(AuditEvent.seq == top - 3)).one()
        db.execute(delete(AuditEvent).where(AuditEvent.seq > keep.seq))
        db.execute(update(AuditHead).values(seq=keep.seq, hash=keep.hash))
        assert verify_chain(db).ok  # the database alone no longer shows it
    cut = run(home, "audit", "verify")
    assert cut.returncode == 1
    assert f"but entry {top} was anchored at" in cut.stderr
    assert "cut off" in cut.stderr
    # the first broken entry is the first one missing, not the anchor's (#6 review)
    assert f"(first bad entry: {top - 2};" in cut.stderr
