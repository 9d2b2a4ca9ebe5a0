# SPDX-License-Identifier: GPL-2.0-or-later
"""The dashboard (issue #6): figures, who is in, alerts, and the server-drawn charts."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.attendance import corrections
from server.attendance.models import Punch
from server.audit.services import Actor
from server.dashboard import services
from server.db import utcnow
from server.devices.models import CommandKind, CommandState, PinMapping, TerminalCommand
from server.employees.models import Employee
from server.rights.services import receive_request
from tests.web.conftest import ZONE, add_punch, page_token

BERLIN = ZoneInfo(ZONE)


def _today_at(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(BERLIN).date()
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN).astimezone(UTC)


@pytest.fixture
def people(db: Session) -> dict[str, Employee]:
    made = {
        "ana": Employee(employee_code="2001", given_name="Ana", family_name="Lima"),
        "bo": Employee(employee_code="2002", given_name="Bo", family_name="Chen"),
        "dee": Employee(
            employee_code="2004",
            given_name="Dee",
            family_name="Hidden",
            restricted_at=utcnow() - timedelta(days=1),
        ),
    }
    db.add_all(made.values())
    db.commit()
    return made


def _figure(page: str, element_id: str) -> int:
    match = re.search(rf'id="{element_id}">(\d+)<', page)
    assert match, element_id
    return int(match.group(1))


def test_today_counts_punches_that_count_and_who_is_in(
    client: Any,
    db: Session,
    people: dict[str, Employee],
    sign_in: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Mid-day, so every punch below is in the past and on today's date.
    noon = _today_at(12)
    monkeypatch.setattr(services, "utcnow", lambda: noon)
    add_punch(db, people["ana"], _today_at(8, 0), state=0)
    add_punch(db, people["bo"], _today_at(8, 5), state=0)
    add_punch(db, people["bo"], _today_at(11, 30), state=1)
    add_punch(db, people["dee"], _today_at(8, 10), state=0)  # restricted: not counted
    add_punch(db, None, _today_at(9, 0), pin="55")  # unassigned PIN: counted, nobody "in"
    add_punch(db, people["ana"], _today_at(9, 30), status="quarantined", reason="x")
    add_punch(db, people["ana"], _today_at(8, 0) - timedelta(days=1), state=0)  # yesterday
    db.commit()
    sign_in("hr_viewer")
    page = client.get("/").get_data(as_text=True)
    assert _figure(page, "punches-today") == 4
    assert _figure(page, "present-count") == 1
    who = page.split('id="who-is-in"')[1].split("</section>")[0]
    assert "Ana Lima" in who
    assert "Chen" not in who  # clocked out
    assert "Hidden" not in who  # restricted
    hours = page.split('id="per-hour"')[1].split("</figure>")[0]
    counts = [int(c) for c in re.findall(r'data-count="(\d+)"', hours)]
    assert len(counts) in (23, 24, 25)
    assert sum(counts) == 4
    assert "<title>08: 2</title>" in hours  # 08:00, 08:05 (Dee's 08:10 left out)
    days = page.split('id="per-day"')[1].split("</figure>")[0]
    per_day = [int(c) for c in re.findall(r'data-count="(\d+)"', days)]
    assert len(per_day) == 14
    assert per_day[-2:] == [1, 4]
    assert "style=" not in page  # the CSP forbids inline styles; the charts need none


def test_roles_that_do_not_manage_people_see_how_many_are_in_but_not_who(
    client: Any,
    db: Session,
    people: dict[str, Employee],
    sign_in: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(services, "utcnow", lambda: _today_at(12))
    add_punch(db, people["ana"], _today_at(8), state=0)
    db.commit()
    sign_in("auditor")
    page = client.get("/").get_data(as_text=True)
    assert _figure(page, "present-count") == 1
    assert "Ana Lima" not in page


def test_a_scoped_account_sees_who_is_in_only_in_its_departments(
    client: Any,
    db: Session,
    world: Any,
    sign_in: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(services, "utcnow", lambda: _today_at(12))
    add_punch(db, world.employees["ana"], _today_at(8), state=0)  # Assembly
    add_punch(db, world.employees["bo"], _today_at(8), state=0)  # Office
    db.commit()
    sign_in("hr_manager", departments=(world.departments["plant"],))
    who = client.get("/").get_data(as_text=True).split('id="who-is-in"')[1].split("</section>")[0]
    assert "Ana Lima" in who
    assert "Chen" not in who


def test_a_scoped_account_counts_and_charts_only_its_departments_punches(
    client: Any,
    db: Session,
    world: Any,
    sign_in: Callable[..., Any],
    create_account: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(services, "utcnow", lambda: _today_at(12))
    ana = world.employees["ana"]
    add_punch(db, ana, _today_at(8), state=0)  # Assembly, under Plant: in scope
    add_punch(db, ana, _today_at(10), state=1)
    add_punch(db, world.employees["bo"], _today_at(8), state=0)  # Office
    add_punch(db, world.employees["dee"], _today_at(9), state=0)  # Assembly, restricted
    add_punch(db, None, _today_at(9), pin="55")  # unassigned: nobody's department
    moved = add_punch(db, ana, _today_at(7) - timedelta(days=20), state=0)  # outside the charts
    db.flush()
    author, approver = create_account(role="hr_manager"), create_account(role="admin")
    fix = corrections.propose_correction(
        db,
        moved.id,
        action="amend",
        reason="terminal_fault",
        occurred_at=_today_at(7),
        actor=Actor("account", author.id),
    )
    corrections.approve_correction(db, fix.id, actor=Actor("account", approver.id))
    db.commit()
    sign_in("hr_manager", departments=(world.departments["plant"],))
    page = client.get("/").get_data(as_text=True)
    assert _figure(page, "punches-today") == 3  # Ana's 8:00 and 10:00, and the one moved to 7:00
    hours = page.split('id="per-hour"')[1].split("</figure>")[0]
    assert sum(int(c) for c in re.findall(r'data-count="(\d+)"', hours)) == 3
    assert "<title>08: 1</title>" in hours  # Bo's 08:00 is another department's
    assert "<title>07: 1</title>" in hours
    days = page.split('id="per-day"')[1].split("</figure>")[0]
    per_day = [int(c) for c in re.findall(r'data-count="(\d+)"', days)]
    assert per_day[-1] == 3
    since = _today_at(0) - timedelta(days=13)
    anas = db.scalar(
        select(func.count())
        .select_from(Punch)
        .where(Punch.employee_id == ana.id, Punch.status == "ok", Punch.occurred_at >= since)
    )
    assert sum(per_day) == anas + 1  # Ana's own punches in the fortnight, and the moved one


def test_alerts_name_what_needs_a_hand(
    client: Any,
    db: Session,
    people: dict[str, Employee],
    sign_in: Callable[..., Any],
    create_terminal: Callable[..., Any],
) -> None:
    sign_in("admin")
    page = client.get("/").get_data(as_text=True)
    assert 'id="no-alerts"' in page
    now = utcnow()
    drifting = create_terminal(name="Drifty", last_seen_at=now, clock_offset_s=900.0)
    create_terminal(name="Broken", consecutive_failures=3, last_error="TerminalUnreachableError")
    db.add(PinMapping(terminal_id=drifting.id, pin="77", valid_from=now))
    db.add(
        TerminalCommand(
            terminal_id=drifting.id,
            kind=CommandKind.PUT_USER.value,
            cause="area_change",
            state=CommandState.FAILED.value,
        )
    )
    add_punch(db, people["ana"], now - timedelta(hours=1), status="quarantined", reason="x")
    receive_request(
        db,
        employee_id=people["bo"].id,
        kind="access",
        actor=Actor.system("test"),
        received_at=now - timedelta(days=60),
    )
    db.commit()
    page = client.get("/").get_data(as_text=True)
    alerts = page.split('id="alerts"')[1].split("</section>")[0]
    for kind in (
        "clock-drift",
        "failed-sync",
        "quarantined",
        "unassigned-pins",
        "failed-commands",
        "overdue-requests",
    ):
        assert f'data-alert="{kind}"' in alerts, kind
    assert "Drifty" in alerts
    assert "+900 s" in alerts
    assert "Broken" in alerts
    assert "1 data-subject request overdue" in alerts
    assert _figure(page, "terminals") == 2
    assert "1 online" in page
    assert "1 offline" in page


def test_an_hr_viewer_is_not_shown_the_request_register(
    client: Any, db: Session, people: dict[str, Employee], sign_in: Callable[..., Any]
) -> None:
    receive_request(
        db,
        employee_id=people["bo"].id,
        kind="access",
        actor=Actor.system("test"),
        received_at=utcnow() - timedelta(days=60),
    )
    db.commit()
    sign_in("hr_viewer")
    assert 'data-alert="overdue-requests"' not in client.get("/").get_data(as_text=True)


def test_bucket_counts_split_a_range_in_one_statement(
    db: Session, people: dict[str, Employee]
) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for minutes in (0, 30, 61, 125, 179):
        add_punch(db, people["ana"], start + timedelta(minutes=minutes))
    db.commit()
    bounds = [start + timedelta(hours=h) for h in range(4)]
    assert services.bucket_counts(db, bounds) == [2, 1, 2]


def test_who_is_in_names_the_latest_arrivals_and_counts_them_all(
    db: Session, people: dict[str, Employee]
) -> None:
    more = [
        Employee(employee_code=f"30{i:02d}", given_name="Gus", family_name=f"Novak{i}")
        for i in range(4)
    ]
    db.add_all(more)
    db.flush()
    start = _today_at(0)
    end = start + timedelta(days=1)
    for i, person in enumerate(more):
        add_punch(db, person, _today_at(7, 10 * i), state=0)
    add_punch(db, more[3], _today_at(7, 45), state=0)  # in again: still in, since 07:45
    add_punch(db, more[0], _today_at(7, 50), state=1)  # out: not in
    add_punch(db, people["dee"], _today_at(7, 55), state=0)  # restricted: never shown
    add_punch(db, more[1], start - timedelta(minutes=5), state=1)  # yesterday: ignored
    db.commit()
    shown, total = services.who_is_in(db, start, end, scope=None, limit=2)
    assert total == 3  # Novak1, Novak2, Novak3
    assert [p.employee.family_name for p in shown] == ["Novak3", "Novak2"]
    assert shown[0].since == _today_at(7, 45)


def test_charts_leave_out_the_punches_of_many_restricted_employees(
    db: Session, people: dict[str, Employee]
) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    add_punch(db, people["dee"], start + timedelta(minutes=10))
    add_punch(db, people["ana"], start + timedelta(minutes=20))
    add_punch(db, people["ana"], start + timedelta(minutes=70), status="quarantined", reason="x")
    add_punch(db, people["bo"], start + timedelta(minutes=80))
    db.commit()
    # 11,000 ids in each of 24 ranges: more bound parameters than SQLite takes in one
    # statement (250,000 as Debian builds it, 32,766 by default) if each were one.
    restricted = [people["dee"].id, *range(10**6, 10**6 + 11_000)]
    hours = [start + timedelta(hours=h) for h in range(25)]
    counts = services.counted_punches(db, list(itertools.pairwise(hours)), restricted)
    assert counts[:2] == [1, 1]
    assert sum(counts) == 2


def test_a_scoped_account_is_alerted_only_about_its_departments(
    client: Any, db: Session, world: Any, sign_in: Callable[..., Any]
) -> None:
    # The world holds one quarantined punch (Ana, Assembly) and one PIN nobody holds.
    db.add(PinMapping(terminal_id=None, pin="777", valid_from=utcnow()))
    db.commit()
    sign_in("hr_manager", departments=(world.departments["office"],))
    alerts = client.get("/").get_data(as_text=True).split('id="alerts"')[1].split("</section>")[0]
    assert 'data-alert="quarantined"' not in alerts  # Ana is not in Office
    assert 'data-alert="unassigned-pins"' not in alerts
    client.post("/logout", data={"csrf_token": page_token(client, "/")})
    sign_in("hr_manager", departments=(world.departments["plant"],))
    alerts = client.get("/").get_data(as_text=True).split('id="alerts"')[1].split("</section>")[0]
    assert "1 quarantined punch</a>" in alerts  # Ana's, in Assembly under Plant
    assert 'data-alert="unassigned-pins"' not in alerts


def test_corrections_count_who_is_in_and_the_charts_at_their_corrected_values(
    db: Session, people: dict[str, Employee], create_account: Callable[..., Any]
) -> None:
    """A voided duplicate check-in does not put anyone in; a check-out corrected to a
    check-in does; a punch corrected from late yesterday to just after midnight counts
    today, in the 00 hour."""
    author, approver = create_account(role="hr_manager"), create_account(role="admin")

    def correct(punch_id: int, **change: Any) -> None:
        fix = corrections.propose_correction(
            db, punch_id, reason="employee_request", actor=Actor("account", author.id), **change
        )
        corrections.approve_correction(db, fix.id, actor=Actor("account", approver.id))

    cy = Employee(employee_code="2003", given_name="Cy", family_name="Park")
    db.add(cy)
    db.flush()
    start = _today_at(0)
    end = start + timedelta(days=1)
    duplicate = add_punch(db, people["ana"], _today_at(8, 0), state=0)
    wrong_state = add_punch(db, people["bo"], _today_at(8, 5), state=1)
    late = add_punch(db, cy, start - timedelta(minutes=10), state=0)  # 23:50 yesterday
    db.flush()
    correct(duplicate.id, action="void")
    correct(wrong_state.id, action="amend", punch_state=0)
    correct(late.id, action="amend", occurred_at=start + timedelta(minutes=10))
    db.commit()

    shown, total = services.who_is_in(db, start, end, scope=None)
    assert total == 2
    assert [p.employee.family_name for p in shown] == ["Chen", "Park"]
    assert shown[1].since == start + timedelta(minutes=10)

    hours = list(itertools.pairwise(services._hour_bounds(start, end)))
    yesterday = (start - timedelta(days=1), start)
    counts = services.counted_punches(db, [*hours, yesterday, (start, end)], [])
    assert counts[-2:] == [0, 2]  # Cy's punch moved to today; Ana's voided one is gone
    assert counts[0] == 1  # the 00 hour holds Cy's corrected punch
    assert sum(counts[: len(hours)]) == 2


def test_corrections_waiting_for_approval_are_an_alert_within_scope(
    client: Any, db: Session, people: dict[str, Employee], sign_in: Callable[..., Any]
) -> None:
    author = sign_in("hr_manager")
    punch = add_punch(db, people["ana"], _today_at(0) - timedelta(days=1), state=0)
    db.flush()
    corrections.propose_correction(
        db, punch.id, action="void", reason="duplicate", actor=Actor("account", author.id)
    )
    db.commit()
    page = client.get("/").get_data(as_text=True)
    alert = page.split('data-alert="corrections"')[1].split("</li>")[0]
    assert "1 punch correction waits for approval" in alert
    assert "/punches/corrections" in alert
    board = services.build_dashboard(db, zone=BERLIN, scope=frozenset({999}), with_requests=False)
    assert board.alerts.corrections_to_decide == 0  # Ana is in no department of that scope
