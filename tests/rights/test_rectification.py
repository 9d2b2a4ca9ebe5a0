# SPDX-License-Identifier: GPL-2.0-or-later
"""Rectification of time records: append-only corrections, four eyes, effective values (#7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.attendance import corrections
from server.attendance.models import Punch, PunchCorrection
from server.audit.models import AuditEvent
from server.audit.services import Actor
from server.auth.models import Account
from server.employees.models import Employee
from server.errors import ConflictError, PermissionDeniedError, ValidationError

T0 = datetime(2026, 3, 2, 8, 1, tzinfo=UTC)


def person(db: Session, code: str) -> Employee:
    e = Employee(employee_code=code, given_name="Rita", family_name="Sousa")
    db.add(e)
    db.flush()
    return e


def punch(db: Session, e: Employee | None, minute: int, state: int = 0) -> Punch:
    p = Punch(
        terminal_serial="T1",
        pin=e.employee_code if e else "999",
        employee_id=e.id if e else None,
        device_time=(T0 + timedelta(minutes=minute)).replace(tzinfo=None),
        occurred_at=T0 + timedelta(minutes=minute),
        timezone="UTC",
        punch_state=state,
    )
    db.add(p)
    db.flush()
    return p


def actor(db: Session, name: str) -> Actor:
    a = Account(username=name, display_name=name, password_hash="x", role="hr_manager")
    db.add(a)
    db.flush()
    return Actor("account", a.id)


def effective(db: Session) -> dict[int, tuple[datetime, int, int | None]]:
    rows = db.execute(corrections.effective_punches().order_by(Punch.id)).all()
    return {r.id: (r.occurred_at, r.punch_state, r.correction_id) for r in rows}


def test_an_approved_correction_is_the_effective_value_and_the_punch_stays_as_recorded(
    db: Session,
) -> None:
    rita = person(db, "61")
    first, second, dup = punch(db, rita, 0), punch(db, rita, 480), punch(db, rita, 481)
    hr, boss = actor(db, "hr"), actor(db, "boss")
    fixed_time = T0 + timedelta(hours=8, minutes=30)
    amend = corrections.propose_correction(
        db,
        second.id,
        action="amend",
        occurred_at=fixed_time,
        punch_state=1,
        reason="forgot_to_punch",
        note="left at 16:31, told by phone",
        actor=hr,
    )
    void = corrections.propose_correction(db, dup.id, action="void", reason="duplicate", actor=hr)
    # Proposed corrections do not count yet.
    assert effective(db)[second.id][:2] == (second.occurred_at, 0)
    corrections.approve_correction(db, amend.id, actor=boss)
    corrections.approve_correction(db, void.id, actor=boss)
    rows = effective(db)
    assert rows[first.id] == (first.occurred_at, 0, None)
    assert rows[second.id] == (fixed_time, 1, amend.id)
    assert dup.id not in rows  # voided: it does not count
    db.expire_all()
    assert db.get(Punch, second.id).occurred_at == T0 + timedelta(minutes=480)  # type: ignore[union-attr]
    # A later correction supersedes; a rejected one changes nothing.
    again = corrections.propose_correction(
        db, second.id, action="amend", punch_state=5, reason="wrong_state", actor=boss
    )
    corrections.approve_correction(db, again.id, actor=hr)
    rejected = corrections.propose_correction(
        db, first.id, action="amend", punch_state=3, reason="wrong_state", actor=hr
    )
    corrections.reject_correction(db, rejected.id, actor=boss)
    rows = effective(db)
    assert rows[second.id] == (second.occurred_at, 5, again.id)
    assert rows[first.id] == (first.occurred_at, 0, None)
    assert [c.id for c in corrections.corrections_of(db, second.id)] == [amend.id, again.id]
    logged = db.scalars(
        select(AuditEvent.details).where(AuditEvent.action.like("punch.correction%"))
    ).all()
    assert len(logged) == 8  # four proposed, three approved, one rejected
    assert not any("phone" in str(d) for d in logged)  # the note stays out of the log


def test_whoever_proposes_a_correction_cannot_approve_it(db: Session) -> None:
    rita = person(db, "62")
    p = punch(db, rita, 0)
    hr = actor(db, "hr2")
    fix = corrections.propose_correction(
        db, p.id, action="amend", punch_state=1, reason="wrong_state", actor=hr
    )
    with pytest.raises(PermissionDeniedError, match="Another person"):
        corrections.approve_correction(db, fix.id, actor=hr)
    with pytest.raises(PermissionDeniedError, match="named account"):
        corrections.approve_correction(db, fix.id, actor=Actor.system("cli"))
    corrections.approve_correction(db, fix.id, actor=actor(db, "boss2"))
    with pytest.raises(ConflictError, match="approved already"):
        corrections.reject_correction(db, fix.id, actor=actor(db, "boss3"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "amend", "reason": "wrong_state"}, "new time, a new state"),
        ({"action": "move", "reason": "wrong_state", "punch_state": 1}, "action is one of"),
        ({"action": "amend", "reason": "because", "punch_state": 1}, "reason is one of"),
        ({"action": "amend", "reason": "wrong_state", "punch_state": 9}, "punch state"),
        ({"action": "amend", "reason": "other", "punch_state": 1}, "Say why"),
        (
            {"action": "amend", "reason": "wrong_state", "occurred_at": datetime(2026, 1, 1)},
            "time zone",
        ),
        (
            {
                "action": "amend",
                "reason": "wrong_state",
                "occurred_at": datetime.now(UTC) + timedelta(days=1),
            },
            "future",
        ),
        ({"action": "void", "reason": "duplicate", "punch_state": 1}, "no new time"),
        ({"action": "amend", "reason": "wrong_state", "punch_state": 1, "note": "x" * 501}, "500"),
    ],
)
def test_a_bad_correction_is_refused_and_nothing_is_stored(
    db: Session, kwargs: dict[str, object], message: str
) -> None:
    p = punch(db, person(db, "63"), 0)
    with pytest.raises(ValidationError, match=message):
        corrections.propose_correction(db, p.id, actor=actor(db, "hr3"), **kwargs)  # type: ignore[arg-type]
    assert db.scalar(select(func.count()).select_from(PunchCorrection)) == 0


def test_a_punch_of_an_unmapped_pin_is_mapped_before_it_is_corrected(db: Session) -> None:
    p = punch(db, None, 0)
    with pytest.raises(ConflictError, match="Map the punch"):
        corrections.propose_correction(
            db, p.id, action="void", reason="duplicate", actor=actor(db, "hr4")
        )


def test_a_correction_links_only_an_open_rectification_request_of_the_same_employee(
    db: Session,
) -> None:
    from server.rights import services as register

    rita, other = person(db, "64"), person(db, "65")
    p = punch(db, rita, 0)
    hr = actor(db, "hr5")
    access = register.receive_request(db, employee_id=rita.id, kind="access", actor=hr)
    theirs = register.receive_request(db, employee_id=other.id, kind="rectification", actor=hr)
    closed = register.receive_request(db, employee_id=rita.id, kind="rectification", actor=hr)
    register.refuse_request(
        db,
        closed.id,
        reason="abuse_of_rights",
        text_for_employee="Asked for the tenth time this week.",
        actor=hr,
    )
    for wrong in (access.id, theirs.id, closed.id, 999_999):
        with pytest.raises(ValidationError) as refused:
            corrections.propose_correction(
                db, p.id, action="void", reason="duplicate", request_id=wrong, actor=hr
            )
        assert refused.value.details["field"] == "request_id"
    assert db.scalar(select(func.count()).select_from(PunchCorrection)) == 0
    right = register.receive_request(db, employee_id=rita.id, kind="rectification", actor=hr)
    made = corrections.propose_correction(
        db, p.id, action="void", reason="duplicate", request_id=right.id, actor=hr
    )
    assert made.request_id == right.id
