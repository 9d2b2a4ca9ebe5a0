# SPDX-License-Identifier: GPL-2.0-or-later
"""The operation log is a hash chain: alterations, deletions and truncation are found."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent, AuditHead
from server.audit.services import Actor, record_event, verify_chain

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
