# SPDX-License-Identifier: GPL-2.0-or-later
"""GET /api/v1/punches: effective values, cursor pages, scope and restriction (#6, #7)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from server.attendance import corrections
from server.attendance.models import Punch
from server.audit.services import Actor
from server.auth.models import Account
from server.db import utcnow
from server.employees.models import Employee
from tests.api.conftest import Api

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def punches(db: Session, e: Employee, n: int) -> list[Punch]:
    rows = [
        Punch(
            terminal_serial="T1",
            pin=e.employee_code,
            employee_id=e.id,
            device_time=(T0 + timedelta(minutes=i)).replace(tzinfo=None),
            occurred_at=T0 + timedelta(minutes=i),
            timezone="UTC",
            punch_state=0,
        )
        for i in range(n)
    ]
    db.add_all(rows)
    db.flush()
    return rows


def actor(db: Session, name: str) -> Actor:
    a = Account(username=name, display_name=name, password_hash="x", role="hr_manager")
    db.add(a)
    db.flush()
    return Actor("account", a.id)


def test_punches_page_by_cursor_with_corrected_values_and_without_the_restricted(
    api: Api, issue_token: Callable[..., str], db: Session
) -> None:
    ana = Employee(employee_code="P1", given_name="Ana", family_name="Lee")
    rui = Employee(employee_code="P2", given_name="Rui", family_name="Sa")
    db.add_all([ana, rui])
    db.flush()
    mine = punches(db, ana, 7)
    punches(db, rui, 2)
    fixed = T0 + timedelta(hours=3)
    fix = corrections.propose_correction(
        db,
        mine[0].id,
        action="amend",
        occurred_at=fixed,
        reason="forgot_to_punch",
        actor=actor(db, "a1"),
    )
    corrections.approve_correction(db, fix.id, actor=actor(db, "a2"))
    rui.restricted_at = utcnow()
    db.commit()
    token = issue_token("hr_viewer")

    seen: list[int] = []
    cursor = None
    while True:
        path = "/punches?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(path, token).get_json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(p.id for p in mine)  # no gap, no repeat, Rui left out
    assert len(seen) == len(set(seen))
    listed = api.get(f"/punches?employee_id={ana.id}", token).get_json()["items"]
    first = listed[-1]  # ordered by the time recorded: the oldest comes last
    assert first["id"] == mine[0].id
    assert first["occurred_at"] == fixed.isoformat()
    assert first["original_occurred_at"] == T0.isoformat()
    assert first["corrected"] is True
    window = api.get(
        "/punches?from=2026-03-02T08:02:00%2B00:00&to=2026-03-02T08:04:00%2B00:00", token
    ).get_json()
    assert [p["id"] for p in window["items"]] == [mine[3].id, mine[2].id]


def test_a_damaged_cursor_or_a_bad_filter_is_refused(
    api: Api, issue_token: Callable[..., str]
) -> None:
    token = issue_token("auditor")
    assert api.get("/punches?cursor=nonsense", token).status_code == 422
    assert api.get("/punches?source=carrier-pigeon", token).status_code == 422
