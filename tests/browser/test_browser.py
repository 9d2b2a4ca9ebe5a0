# SPDX-License-Identifier: GPL-2.0-or-later
"""What people do in a real browser (issue #6): sign in, add a simulated terminal, sync it
and watch the bar, find an employee's punches, export XLSX, and the limits of read-only
and department-scoped accounts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import func, select

from server.attendance.models import Punch
from server.audit.models import AuditEvent
from server.devices.models import Terminal
from server.employees.models import Employee
from server.organization.models import Department
from server.settings import system_timezone
from terminals.simulator.codec import Punch as SimPunch
from tests.browser.conftest import LiveServer
from tests.browser.pages import (
    DashboardPage,
    LoginPage,
    PunchesPage,
    TerminalPage,
    TerminalsPage,
)

ZONE = ZoneInfo("Europe/Berlin")


def _seed_people(live: LiveServer, punches_each: int = 12) -> dict[str, Any]:
    """Two departments with one person each, and their punches over the last days."""
    tag = uuid.uuid4().hex[:5].upper()
    with live.sessions() as db:
        north = Department(code=f"N{tag}", name=f"North {tag}")
        south = Department(code=f"S{tag}", name=f"South {tag}")
        db.add_all([north, south])
        db.flush()
        ana = Employee(
            employee_code=f"A{tag}",
            given_name="Ana",
            family_name=f"Lima{tag}",
            department_id=north.id,
        )
        bo = Employee(
            employee_code=f"B{tag}",
            given_name="Bo",
            family_name=f"Chen{tag}",
            department_id=south.id,
        )
        db.add_all([ana, bo])
        db.flush()
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=5)
        for person in (ana, bo):
            for n in range(punches_each):
                at = start + timedelta(hours=7 * n, seconds=person.id)
                db.add(
                    Punch(
                        terminal_serial=f"SER{tag}",
                        pin=person.employee_code,
                        employee_id=person.id,
                        device_time=at.astimezone(ZONE).replace(tzinfo=None),
                        occurred_at=at,
                        timezone="Europe/Berlin",
                        verify_type=1,
                        punch_state=n % 2,
                        work_code=0,
                        source="pull",
                        status="ok",
                        received_at=at,
                    )
                )
        db.commit()
        return {"ana": ana, "bo": bo, "north": north.id, "south": south.id}


def test_an_admin_signs_in_and_sees_the_dashboard_and_navigation(
    page: Any, live_server: LiveServer
) -> None:
    username = live_server.account("admin")
    dashboard = LoginPage(page).sign_in(username)
    assert dashboard.figure("punches-today") >= 0
    labels = dashboard.nav_labels()
    for label in ("Dashboard", "Employees", "Punches", "Terminals"):
        assert label in labels
    assert page.locator("#per-hour svg rect.bar").count() >= 23


def test_an_admin_adds_a_simulated_terminal_and_watches_sync_now_finish(
    page: Any, live_server: LiveServer, simulator: Any
) -> None:
    sim = simulator.start(users=15, records=4_000)
    LoginPage(page).sign_in(live_server.account("admin"))
    terminals = TerminalsPage(page).open()
    assert terminals.can_add()
    # The simulator's clock shows the host's wall time.
    terminal = terminals.add(
        f"127.0.0.1:{sim.port}", name="Browser gate", timezone=system_timezone()
    )
    assert f"Terminal {sim.serial} added." in terminal.flash()
    # A new terminal is due at once: the worker's first sync runs on its own. Then people
    # punch, and "Sync now" fetches what is new.
    first = terminal.progress_after_registration()
    assert first == 4_000
    start = sim.device.clock.now() - timedelta(hours=2)  # the terminal's wall clock
    sim.device.add_punches(
        SimPunch("1", start + timedelta(seconds=i), 1, 0, 0) for i in range(2_500)
    )
    terminal.sync_now()
    seen = terminal.progress_seen(until="ok")
    state, text = terminal.status()
    assert state == "ok", text
    assert seen[0] < 100  # watched from the start, not only at the end
    assert seen[-1] == 100
    assert "2500 new punches" in text
    with live_server.sessions() as db:
        stored = db.scalar(
            select(func.count()).select_from(Punch).where(Punch.terminal_serial == sim.serial)
        )
    assert stored == 6_500


def test_hr_finds_an_employees_punches_and_exports_them_as_xlsx(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    people = _seed_people(live_server)
    LoginPage(page).sign_in(live_server.account("hr_manager"))
    punches = PunchesPage(page).open()
    rows = punches.find(people["ana"].employee_code)
    assert len(rows) == 12
    assert all(people["ana"].family_name in r for r in rows)

    workbook = openpyxl.load_workbook(punches.export_xlsx(tmp_path), read_only=True)
    sheet = workbook.active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    workbook.close()
    assert values[0][:2] == ("punch_id", "local_time")
    assert len(values) == 13
    assert {v[4] for v in values[1:]} == {people["ana"].employee_code}
    with live_server.sessions() as db:
        event = db.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "punch.exported")
            .order_by(AuditEvent.seq.desc())
        )
        assert event is not None
        assert (event.details["format"], event.details["rows"]) == ("xlsx", 12)


def test_an_hr_viewer_sees_no_edit_controls_and_a_post_is_refused(
    page: Any, live_server: LiveServer, simulator: Any
) -> None:
    people = _seed_people(live_server, punches_each=2)
    with live_server.sessions() as db:
        terminal = Terminal(
            serial_number=f"RO{uuid.uuid4().hex[:6]}",
            name="Read-only view",
            host="127.0.0.1",
            port=4370,
            transport="tcp",
            timezone="Europe/Berlin",
            encoding="utf-8",
            capabilities={},
        )
        db.add(terminal)
        db.commit()
        terminal_id = terminal.id
    LoginPage(page).sign_in(live_server.account("hr_viewer"))
    assert not TerminalsPage(page).open().can_add()
    view = TerminalPage(page).open(terminal_id)
    for control in ("sync-now", "test-connection", "save-area"):
        assert not view.has_control(control)
    punches = PunchesPage(page).open()
    assert not punches.can_add_by_hand()
    assert punches.can_export()  # reading, and exporting what one may read, is allowed
    status = punches.post_without_the_form(
        "/punches/new",
        {
            "employee": people["ana"].employee_code,
            "day": "2026-01-05",
            "at": "08:00",
            "state": "0",
            "reason": "terminal_fault",
        },
    )
    assert status == 403
    assert punches.post_without_the_form(f"/terminals/{terminal_id}/sync", {}) == 403
    with live_server.sessions() as db:
        manual = db.scalar(
            select(func.count())
            .select_from(Punch)
            .where(Punch.employee_id == people["ana"].id, Punch.source == "manual")
        )
    assert manual == 0


def test_a_department_scoped_hr_manager_cannot_see_another_department(
    page: Any, live_server: LiveServer
) -> None:
    people = _seed_people(live_server, punches_each=3)
    username = live_server.account("hr_manager", departments=(people["north"],))
    LoginPage(page).sign_in(username)
    punches = PunchesPage(page).open()
    assert len(punches.find(people["ana"].employee_code)) == 3
    assert punches.find(people["bo"].employee_code) == []
    assert people["bo"].family_name not in page.content()


@pytest.mark.parametrize("locale", ["zh-CN"])
def test_the_terminal_pages_read_in_chinese(
    page: Any, live_server: LiveServer, locale: str
) -> None:
    LoginPage(page).sign_in(live_server.account("admin"))
    page.click("button[name=locale][value=zh_CN]")
    page.goto("/terminals")
    assert page.locator("h1").inner_text() == "考勤机"
    DashboardPage(page).open()
    assert "需要处理" in page.content()
