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
from server.audit.services import Actor, record_event, verify_chain
from server.db import make_engine
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


@pytest.mark.parametrize("value", [b"\x01\x02template", {"nested": 1}, ["a"], "x" * 201])
def test_details_hold_identifiers_only(db: Session, value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        record_event(db, "x", actor=ACTOR, details={"k": value})


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
    broken = run(home, "audit", "verify")
    assert broken.returncode == 1
    assert "NOT intact: entry altered (first bad entry: 3" in broken.stderr


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
    assert f"entry {top}, anchored at" in cut.stderr
    assert "is gone" in cut.stderr
