# SPDX-License-Identifier: GPL-2.0-or-later
"""Terminal pages against simulated terminals on 127.0.0.1 (issue #6)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from biometrics.keys import generate_key_file
from server.attendance.models import Punch
from server.db import utcnow
from server.devices.models import (
    CommandKind,
    CommandState,
    PinMapping,
    SyncRun,
    Terminal,
    TerminalCommand,
)
from server.organization.models import Area
from server.settings import Settings, system_timezone
from terminals.sync import sync_terminal
from tests.enrolment.helpers import consent, ready_organization
from tests.terminals.test_sync import client_for
from tests.web.conftest import World, add_punch, audit_count, last_audit, page_token


def _terminals(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Terminal)) or 0


# --------------------------------------------------------------------------- the fleet
def test_the_list_shows_state_last_sync_clock_offset_health_and_outbox(
    client: Any, db: Session, sign_in: Callable[..., Any], create_terminal: Callable[..., Any]
) -> None:
    sign_in("auditor")
    now = utcnow()
    good = create_terminal(
        name="Gate",
        last_seen_at=now,
        last_success_at=now,
        clock_offset_s=2.0,
        last_record_count=120,
        last_user_count=8,
    )
    bad = create_terminal(
        name="Dock",
        last_seen_at=now - timedelta(hours=3),
        consecutive_failures=4,
        last_error="TerminalUnreachableError: no answer",
        clock_offset_s=-400.0,
    )
    db.add(
        TerminalCommand(
            terminal_id=bad.id,
            kind=CommandKind.PUT_USER.value,
            cause="area_change",
            state=CommandState.FAILED.value,
            attempts=3,
            last_error="UnstorableUserError: PIN too long",
        )
    )
    db.commit()
    page = client.get("/terminals").get_data(as_text=True)
    gate = page.split(f'<tr id="t{good.id}">')[1].split("</tr>")[0]
    dock = page.split(f'<tr id="t{bad.id}">')[1].split("</tr>")[0]
    assert "online" in gate
    assert "+2 s" in gate
    assert "120 records" in gate
    assert "offline" in dock
    assert "badge-warn" in dock  # clock drift beyond the alert threshold
    assert "4 failures in a row" in dock
    assert "1 failed" in dock
    assert 'id="add-terminal"' not in page  # auditors only look


def test_the_outbox_page_lists_commands_with_their_errors(
    client: Any, db: Session, sign_in: Callable[..., Any], create_terminal: Callable[..., Any]
) -> None:
    sign_in("hr_viewer")
    terminal = create_terminal()
    failed = TerminalCommand(
        terminal_id=terminal.id,
        kind=CommandKind.DELETE_USER.value,
        cause="terminated",
        state=CommandState.FAILED.value,
        attempts=5,
        last_error="TerminalProtocolError: refused",
    )
    done = TerminalCommand(
        terminal_id=terminal.id, kind="reconcile", cause="schedule", state="done"
    )
    db.add_all([failed, done])
    db.commit()
    page = client.get("/terminals/outbox").get_data(as_text=True)
    assert f'id="c{failed.id}"' in page
    assert "TerminalProtocolError: refused" in page
    assert f'id="c{done.id}"' not in page
    assert f'id="c{done.id}"' in client.get("/terminals/outbox?state=done").get_data(as_text=True)


# --------------------------------------------------------------------------- adding
def _add(client: Any, **fields: Any) -> Any:
    data = {
        "address": "",
        "transport": "tcp",
        "comm_key": "",
        "name": "",
        "timezone": system_timezone(),
        "encoding": "utf-8",
        "area": "",
        "csrf_token": page_token(client, "/terminals/new"),
    }
    data.update({k: str(v) for k, v in fields.items()})
    return client.post("/terminals/new", data=data)


def test_an_admin_adds_a_terminal_whose_comm_key_is_sealed_and_never_shown(
    client: Any,
    db: Session,
    settings: Settings,
    simulator: Any,
    sign_in: Callable[..., Any],
) -> None:
    settings.key_file.parent.mkdir(mode=0o700)
    generate_key_file(settings.key_file)
    sim = simulator.start(users=3, records=10, comm_key=4321)
    sign_in("admin")
    area = Area(code="N", name="North")
    db.add(area)
    db.commit()
    response = _add(
        client,
        address=f"127.0.0.1:{sim.port}",
        comm_key=4321,
        name="Front door",
        area=area.id,
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    terminal = db.scalar(select(Terminal).where(Terminal.serial_number == sim.serial))
    assert terminal is not None
    assert (terminal.name, terminal.port, terminal.area_id) == ("Front door", sim.port, area.id)
    assert terminal.comm_key_sealed is not None
    assert b"4321" not in terminal.comm_key_sealed
    assert last_audit(db, "terminal.registered").object_id == str(terminal.id)
    assert last_audit(db, "terminal.area_changed").details["to"] == area.id
    reconcile = db.scalar(select(TerminalCommand).where(TerminalCommand.terminal_id == terminal.id))
    assert reconcile is not None
    assert reconcile.kind == "reconcile"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "4321" not in page
    assert "set (never shown)" in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"address": ""}, "This field is required"),
        ({"address": "bad host!"}, "is not a host name or address"),
        ({"address": "127.0.0.1:99999"}, "is not a port number"),
        ({"address": "127.0.0.1", "comm_key": "12ab"}, "A comm key is a number"),
        ({"address": "127.0.0.1", "timezone": "Mars/Olympus"}, "is not an IANA time zone"),
        ({"address": "127.0.0.1", "transport": "carrier-pigeon"}, "Not a valid choice"),
    ],
)
def test_bad_terminal_details_are_refused_and_nothing_is_added(
    client: Any,
    db: Session,
    sign_in: Callable[..., Any],
    fields: dict[str, str],
    message: str,
) -> None:
    sign_in("admin")
    response = _add(client, **fields)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'value="12ab"' not in page  # a typed comm key is not sent back
    assert _terminals(db) == 0
    assert audit_count(db, "terminal.registered") == 0


def test_a_terminal_that_does_not_answer_is_not_added(
    client: Any, db: Session, simulator: Any, sign_in: Callable[..., Any]
) -> None:
    sim = simulator.start(users=1, records=1)
    port = sim.port
    sim.stop()
    sign_in("admin")
    response = _add(client, address=f"127.0.0.1:{port}")
    assert response.status_code == 400
    assert "did not answer" in response.get_data(as_text=True)
    assert _terminals(db) == 0


@pytest.mark.parametrize("role", ["hr_manager", "hr_viewer", "auditor"])
def test_only_administrators_add_terminals(
    client: Any, db: Session, sign_in: Callable[..., Any], role: str
) -> None:
    sign_in(role)
    assert client.get("/terminals/new").status_code == 403
    token = page_token(client, "/terminals")
    response = client.post(
        "/terminals/new", data={"address": "127.0.0.1", "timezone": "UTC", "csrf_token": token}
    )
    assert response.status_code == 403
    assert _terminals(db) == 0


# --------------------------------------------------------------------------- one terminal
def test_testing_the_connection_reports_what_answered_and_is_logged(
    client: Any,
    db: Session,
    simulator: Any,
    sign_in: Callable[..., Any],
    create_terminal: Callable[..., Any],
) -> None:
    sim = simulator.start(users=4, records=25)
    terminal = create_terminal(sim)
    sign_in("hr_manager")
    token = page_token(client, f"/terminals/{terminal.id}")
    response = client.post(f"/terminals/{terminal.id}/test", data={"csrf_token": token})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"serial {sim.serial}" in page
    assert "25 records" in page
    assert last_audit(db, "terminal.connection_tested").details["ok"] is True
    sim.stop()
    client.post(f"/terminals/{terminal.id}/test", data={"csrf_token": token})
    page = client.get(f"/terminals/{terminal.id}").get_data(as_text=True)
    assert "Connection failed" in page
    assert last_audit(db, "terminal.connection_tested").details["ok"] is False


def test_sync_now_queues_the_terminal_and_the_progress_follows_the_run(
    client: Any,
    db: Session,
    simulator: Any,
    sign_in: Callable[..., Any],
    create_terminal: Callable[..., Any],
) -> None:
    sim = simulator.start(users=6, records=300)
    terminal = create_terminal(sim, next_attempt_at=utcnow() + timedelta(hours=1))
    sign_in("hr_manager")
    url = f"/terminals/{terminal.id}"
    assert client.get(f"{url}/sync/progress").get_json()["state"] == "idle"
    response = client.post(f"{url}/sync", data={"csrf_token": page_token(client, url)})
    assert response.status_code == 302
    assert "after=0" in response.headers["Location"]
    db.refresh(terminal)
    assert terminal.next_attempt_at is not None
    assert terminal.next_attempt_at <= utcnow()
    assert last_audit(db, "terminal.sync_requested").object_id == str(terminal.id)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-watch="yes"' in page
    assert "js/sync-progress.js" in page
    queued = client.get(f"{url}/sync/progress?after=0").get_json()
    assert (queued["state"], queued["finished"]) == ("queued", False)

    sync_terminal(db, terminal, client_for(sim, terminal))  # what the worker does next
    done = client.get(f"{url}/sync/progress?after=0").get_json()
    assert (done["state"], done["percent"], done["finished"]) == ("ok", 100, True)
    assert (done["records_read"], done["punches_new"]) == (300, 300)


def test_the_progress_of_a_running_sync_and_of_one_whose_worker_died(
    client: Any, db: Session, sign_in: Callable[..., Any], create_terminal: Callable[..., Any]
) -> None:
    terminal = create_terminal(lease_owner="w1", lease_until=utcnow() + timedelta(minutes=5))
    run = SyncRun(
        terminal_id=terminal.id,
        status="running",
        progress_phase="read",
        progress_done=500,
        progress_total=1000,
    )
    db.add(run)
    db.commit()
    sign_in("hr_viewer")
    running = client.get(f"/terminals/{terminal.id}/sync/progress").get_json()
    assert (running["state"], running["phase"], running["done"], running["total"]) == (
        "running",
        "read",
        500,
        1000,
    )
    assert 5 < running["percent"] < 75
    terminal.lease_until = utcnow() - timedelta(minutes=1)
    db.commit()
    stalled = client.get(f"/terminals/{terminal.id}/sync/progress").get_json()
    assert (stalled["state"], stalled["finished"]) == ("stalled", True)
    # Opening the page while a run is going watches it.
    terminal.lease_until = utcnow() + timedelta(minutes=5)
    db.commit()
    assert 'data-watch="yes"' in client.get(f"/terminals/{terminal.id}").get_data(as_text=True)


def test_a_push_terminal_cannot_be_synced_from_here(
    client: Any, db: Session, sign_in: Callable[..., Any], create_terminal: Callable[..., Any]
) -> None:
    terminal = create_terminal(transport="push", host=None, port=None)
    sign_in("admin")
    url = f"/terminals/{terminal.id}"
    response = client.post(f"{url}/sync", data={"csrf_token": page_token(client, url)})
    assert response.status_code == 302
    assert "ADMS push" in client.get(url).get_data(as_text=True)
    assert audit_count(db, "terminal.sync_requested") == 0


@pytest.mark.parametrize("role", ["hr_viewer", "auditor", "privacy_officer"])
def test_read_only_roles_see_no_controls_and_cannot_post(
    client: Any,
    db: Session,
    sign_in: Callable[..., Any],
    create_terminal: Callable[..., Any],
    role: str,
) -> None:
    terminal = create_terminal()
    mapping = PinMapping(terminal_id=terminal.id, pin="777", valid_from=utcnow())
    db.add(mapping)
    db.commit()
    sign_in(role)
    url = f"/terminals/{terminal.id}"
    page = client.get(url).get_data(as_text=True)
    for control in ('id="sync-now"', 'id="test-connection"', 'id="save-area"', 'id="enrol-button"'):
        assert control not in page
    token = page_token(client, url)
    for path in ("sync", "test", "area", "enrol"):
        assert client.post(f"{url}/{path}", data={"csrf_token": token}).status_code == 403
    assign = client.post(
        f"/terminals/pins/{mapping.id}/assign", data={"employee": "1", "csrf_token": token}
    )
    assert assign.status_code == 403
    db.refresh(terminal)
    assert terminal.next_attempt_at is None


def test_an_admin_places_a_terminal_in_an_area_and_a_reconcile_is_queued(
    client: Any, db: Session, sign_in: Callable[..., Any], create_terminal: Callable[..., Any]
) -> None:
    terminal = create_terminal()
    area = Area(code="S", name="South")
    db.add(area)
    db.commit()
    sign_in("admin")
    url = f"/terminals/{terminal.id}"
    token = page_token(client, url)
    assert client.post(f"{url}/area", data={"area": "999", "csrf_token": token}).status_code == 302
    db.refresh(terminal)
    assert terminal.area_id is None
    assert (
        client.post(f"{url}/area", data={"area": area.id, "csrf_token": token}).status_code == 302
    )
    db.refresh(terminal)
    assert terminal.area_id == area.id
    assert last_audit(db, "terminal.area_changed").details == {"from": None, "to": area.id}
    kinds = db.scalars(
        select(TerminalCommand.kind).where(TerminalCommand.terminal_id == terminal.id)
    ).all()
    assert kinds == ["reconcile"]


def test_an_hr_manager_may_not_place_terminals(
    client: Any, db: Session, sign_in: Callable[..., Any], create_terminal: Callable[..., Any]
) -> None:
    terminal = create_terminal()
    area = Area(code="S", name="South")
    db.add(area)
    db.commit()
    sign_in("hr_manager")
    url = f"/terminals/{terminal.id}"
    assert 'id="save-area"' not in client.get(url).get_data(as_text=True)
    response = client.post(
        f"{url}/area", data={"area": area.id, "csrf_token": page_token(client, url)}
    )
    assert response.status_code == 403


# --------------------------------------------------------------------------- PINs, quarantine
def test_an_unassigned_pin_is_given_to_an_employee_with_its_punches(
    client: Any,
    db: Session,
    world: World,
    sign_in: Callable[..., Any],
    create_terminal: Callable[..., Any],
) -> None:
    terminal = create_terminal(serial_number="SIM0001")
    mapping = PinMapping(
        terminal_id=terminal.id, pin="777", valid_from=utcnow() - timedelta(days=30)
    )
    db.add(mapping)
    db.commit()
    sign_in("hr_manager")
    page = client.get("/terminals/pins").get_data(as_text=True)
    row = page.split(f'id="pin{mapping.id}"')[1].split("</tr>")[0]
    assert "777" in row
    assert '<td class="num">1</td>' in row  # the world's one punch of PIN 777
    token = page_token(client, "/terminals/pins")
    url = f"/terminals/pins/{mapping.id}/assign"
    client.post(url, data={"employee": "nobody", "csrf_token": token})
    db.refresh(mapping)
    assert mapping.employee_id is None
    response = client.post(url, data={"employee": "1003", "csrf_token": token})
    assert response.status_code == 302
    db.refresh(mapping)
    cy = world.employees["cy"]
    assert mapping.employee_id == cy.id
    attached = db.scalar(
        select(func.count())
        .select_from(Punch)
        .where(Punch.pin == "777", Punch.employee_id == cy.id)
    )
    assert attached == 1
    assert last_audit(db, "pin.assigned").details["punches_attached"] == 1
    assert "1 punches attached" in client.get("/terminals/pins").get_data(as_text=True)


def test_a_scoped_account_neither_sees_nor_assigns_unassigned_pins(
    client: Any,
    db: Session,
    world: World,
    sign_in: Callable[..., Any],
    create_terminal: Callable[..., Any],
) -> None:
    terminal = create_terminal()
    mapping = PinMapping(terminal_id=terminal.id, pin="777", valid_from=utcnow())
    db.add(mapping)
    db.commit()
    sign_in("hr_manager", departments=(world.departments["plant"],))
    page = client.get("/terminals/pins").get_data(as_text=True)
    assert f'id="pin{mapping.id}"' not in page
    response = client.post(
        f"/terminals/pins/{mapping.id}/assign",
        data={"employee": "1001", "csrf_token": page_token(client, "/terminals/pins")},
    )
    assert response.status_code == 404
    db.refresh(mapping)
    assert mapping.employee_id is None


def test_the_terminal_page_lists_its_quarantined_punches_within_scope(
    client: Any,
    db: Session,
    world: World,
    sign_in: Callable[..., Any],
    create_terminal: Callable[..., Any],
) -> None:
    terminal = create_terminal(serial_number="SIM0001")
    sign_in("hr_viewer")
    page = client.get(f"/terminals/{terminal.id}").get_data(as_text=True)
    assert "terminal clock reset (year 2000 default)" in page
    client.post("/logout", data={"csrf_token": page_token(client, "/terminals")})
    sign_in("hr_viewer", departments=(world.departments["office"],))
    page = client.get(f"/terminals/{terminal.id}").get_data(as_text=True)
    assert "terminal clock reset" not in page  # Ana's punch: outside the Office


# --------------------------------------------------------------------------- enrolment
def test_enrolment_needs_the_biometric_permission_and_a_consent(
    client: Any,
    db: Session,
    world: World,
    sign_in: Callable[..., Any],
    create_terminal: Callable[..., Any],
) -> None:
    terminal = create_terminal()
    notice = ready_organization(db)
    db.commit()
    sign_in("hr_manager")  # without the biometric permission
    url = f"/terminals/{terminal.id}"
    assert 'id="enrol-button"' not in client.get(url).get_data(as_text=True)
    token = page_token(client, url)
    refused = client.post(
        f"{url}/enrol", data={"employee": "1001", "finger": "3", "csrf_token": token}
    )
    assert refused.status_code == 403
    client.post("/logout", data={"csrf_token": token})

    sign_in("hr_manager", biometric_permission=True)
    assert 'id="enrol-button"' in client.get(url).get_data(as_text=True)
    token = page_token(client, url)
    client.post(f"{url}/enrol", data={"employee": "1001", "finger": "3", "csrf_token": token})
    assert "consent gate" in client.get(url).get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(TerminalCommand)) == 0

    ana = world.employees["ana"]
    ana.date_of_birth = date(1990, 5, 17)
    consent(db, ana, notice)
    db.commit()
    client.post(f"{url}/enrol", data={"employee": "1001", "finger": "3", "csrf_token": token})
    commands = db.scalars(
        select(TerminalCommand).where(TerminalCommand.kind == CommandKind.ENROL.value)
    ).all()
    assert [(c.employee_id, c.finger) for c in commands] == [(world.employees["ana"].id, 3)]
    assert last_audit(db, "biometric.enrolment_requested").details["finger"] == 3


def test_quarantined_punch_helper_uses_the_world(db: Session, world: World) -> None:
    add_punch(db, None, utcnow(), pin="5", status="quarantined", reason="more than a day")
    db.commit()
    from server.devices.operations import count_quarantined

    assert count_quarantined(db) == 2
