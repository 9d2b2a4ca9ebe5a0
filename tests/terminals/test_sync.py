# SPDX-License-Identifier: GPL-2.0-or-later
"""Sync of one terminal against the simulator: lossless, idempotent, never mixing terminals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.attendance.models import Punch
from server.devices.models import PinMapping, SyncRun
from server.employees.models import Employee
from terminals.base import Endpoint, TerminalError, TerminalIdentityError
from terminals.sync import sync_terminal
from terminals.zk.client import ZkClient


def client_for(term: Any, row: Any) -> ZkClient:
    return ZkClient(
        Endpoint(
            host=row.host,
            port=row.port,
            comm_key=term.device.comm_key,
            encoding=row.encoding,
            timeout_s=5,
        )
    )


def stored(db: Session, serial: str) -> set[tuple[str, datetime]]:
    rows = db.execute(select(Punch.pin, Punch.device_time).where(Punch.terminal_serial == serial))
    return {(pin, t) for pin, t in rows}


def on_device(term: Any) -> set[tuple[str, datetime]]:
    return {(p.user_id, p.timestamp) for p in term.device.attendance()}


def count(db: Session, serial: str) -> int:
    return (
        db.scalar(select(func.count()).select_from(Punch).where(Punch.terminal_serial == serial))
        or 0
    )


@pytest.fixture
def setup(simulator: Any, create_terminal: Callable[..., Any]) -> Callable[..., tuple[Any, Any]]:
    def make(**kwargs: Any) -> tuple[Any, Any]:
        overrides = kwargs.pop("row", {})
        term = simulator.start(**kwargs)
        return term, create_terminal(term, **overrides)

    return make


def test_a_first_sync_stores_every_punch_once_and_a_second_finds_nothing_new(
    db: Session, setup: Callable[..., tuple[Any, Any]]
) -> None:
    term, row = setup(model="tft", users=20, records=1500)
    run = sync_terminal(db, row, client_for(term, row))
    assert (run.status, run.records_read, run.punches_new, run.punches_duplicate) == (
        "ok",
        1500,
        1500,
        0,
    )
    assert stored(db, term.serial) == on_device(term)
    again = sync_terminal(db, row, client_for(term, row))
    assert again.status == "unchanged"
    forced = sync_terminal(db, row, client_for(term, row), force=True)
    assert (forced.punches_new, forced.punches_duplicate) == (0, 1500)
    assert count(db, term.serial) == 1500


def test_device_local_time_is_mapped_to_utc_by_the_terminals_zone(
    db: Session, setup: Callable[..., tuple[Any, Any]]
) -> None:
    term, row = setup(empty=True, row={"timezone": "Asia/Shanghai"})
    term.device.add_user("1001", "Li Lei")
    term.device.add_punch("1001", datetime(2026, 11, 2, 8, 30, 0))
    sync_terminal(db, row, client_for(term, row))
    punch = db.scalars(select(Punch).where(Punch.terminal_serial == term.serial)).one()
    assert punch.device_time == datetime(2026, 11, 2, 8, 30)
    assert punch.occurred_at == datetime(2026, 11, 2, 0, 30, tzinfo=UTC)
    assert punch.timezone == "Asia/Shanghai"


def test_pins_map_to_employees_by_code_and_unknown_ones_wait_for_an_admin(
    db: Session, setup: Callable[..., tuple[Any, Any]]
) -> None:
    term, row = setup(empty=True)
    db.add(Employee(employee_code="1001", given_name="Ana", family_name="Silva"))
    db.commit()
    term.device.add_user("1001", "Ana")
    term.device.add_user("2002", "Unknown")
    term.device.add_punch("1001", datetime(2026, 11, 2, 9, 0))
    term.device.add_punch("2002", datetime(2026, 11, 2, 9, 1))
    sync_terminal(db, row, client_for(term, row))
    by_pin = dict(db.execute(select(Punch.pin, Punch.employee_id)).all())
    ana = db.scalar(select(Employee.id).where(Employee.employee_code == "1001"))
    assert by_pin == {"1001": ana, "2002": None}
    pending = db.scalars(select(PinMapping).where(PinMapping.employee_id.is_(None))).one()
    assert (pending.pin, pending.terminal_id, pending.device_name) == ("2002", row.id, "Unknown")


def test_impossible_dates_are_quarantined_with_a_reason_not_dropped(
    db: Session, setup: Callable[..., tuple[Any, Any]]
) -> None:
    term, row = setup(users=5, records=40)
    term.faults.add_bogus_punches(3)
    run = sync_terminal(db, row, client_for(term, row))
    assert (run.punches_new, run.punches_quarantined) == (40, 3)
    reasons = db.scalars(select(Punch.quarantine_reason).where(Punch.status == "quarantined")).all()
    assert sorted(reasons) == sorted(
        [
            "terminal clock reset (year 2000 default)",
            "more than a day in the future",
            "more than a day in the future",
        ]
    )
    assert count(db, term.serial) == 43


def test_duplicate_records_on_the_device_are_stored_once(
    db: Session, setup: Callable[..., tuple[Any, Any]]
) -> None:
    term, row = setup(users=5, records=100)
    term.faults.duplicate_records(10)
    run = sync_terminal(db, row, client_for(term, row))
    assert (run.records_read, run.punches_new, run.punches_duplicate) == (110, 100, 10)


@pytest.mark.parametrize("model", ["bw", "bw8", "tft", "iface"])
def test_a_connection_dropped_mid_transfer_loses_nothing_on_the_next_run(
    db: Session, setup: Callable[..., tuple[Any, Any]], model: str
) -> None:
    term, row = setup(model=model, users=30, records=12_000)
    term.faults.drop_connection(at_chunk=2)
    with pytest.raises(TerminalError):
        sync_terminal(db, row, client_for(term, row))
    failed = db.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
    assert failed is not None
    assert failed.status == "failed"
    assert row.consecutive_failures == 1
    assert row.next_attempt_at is not None
    sync_terminal(db, row, client_for(term, row))
    assert stored(db, term.serial) == on_device(term)
    assert row.consecutive_failures == 0


def test_a_different_serial_at_a_known_address_stops_the_sync(
    db: Session, setup: Callable[..., tuple[Any, Any]], simulator: Any
) -> None:
    term, row = setup(users=5, records=20)
    simulator.replace(term, records=30)
    with pytest.raises(TerminalIdentityError) as caught:
        sync_terminal(db, row, client_for(term, row))
    assert caught.value.expected == row.serial_number
    assert count(db, row.serial_number) == 0
    assert count(db, term.serial) == 0
    assert "answered" in (row.last_error or "")


def test_clearing_happens_only_after_commit_and_keeps_punches_made_meanwhile(
    db: Session, setup: Callable[..., tuple[Any, Any]]
) -> None:
    term, row = setup(users=10, records=800, row={"clear_after_sync": True})
    term.faults.add_punches_after_read(5)  # a person at the sensor between read and clear
    first = sync_terminal(db, row, client_for(term, row))
    assert not first.cleared
    assert term.device.record_count == 805
    second = sync_terminal(db, row, client_for(term, row))
    assert second.cleared
    assert term.device.record_count == 0
    assert count(db, term.serial) == 805
    assert term.device.enabled


def test_a_requested_clear_reads_everything_first_clears_once_and_keeps_later_punches(
    db: Session, setup: Callable[..., tuple[Any, Any]]
) -> None:
    # An erasure asks a terminal that keeps its log to clear it once (#7).
    term, row = setup(users=10, records=300)
    first = sync_terminal(db, row, client_for(term, row))
    assert not first.cleared
    assert term.device.record_count == 300  # kept: the terminal is not set to clear
    asked = datetime.now(UTC) - timedelta(seconds=1)
    row.log_clear_requested_at = asked
    db.commit()
    term.faults.add_punches_after_read(3)  # someone punches between read and clear
    second = sync_terminal(db, row, client_for(term, row))
    assert not second.cleared  # the log moved: not cleared, still asked
    assert row.log_clear_requested_at == asked
    assert term.device.record_count == 303
    third = sync_terminal(db, row, client_for(term, row))
    assert third.cleared
    assert term.device.record_count == 0
    assert count(db, term.serial) == 303  # every punch reached Rollcall before the clear
    assert row.log_clear_requested_at is None
    assert row.log_cleared_at is not None
    assert row.log_cleared_at >= asked
    assert term.device.enabled
    # Once: later punches stay on the terminal as before.
    pin = sorted(stored(db, term.serial))[0][0]
    term.device.add_punch(pin)
    fourth = sync_terminal(db, row, client_for(term, row))
    assert not fourth.cleared
    assert term.device.record_count == 1
    assert count(db, term.serial) == 304


def test_a_requested_clear_of_an_empty_log_is_done_at_once(
    db: Session, setup: Callable[..., tuple[Any, Any]]
) -> None:
    term, row = setup(users=3, records=0)
    row.log_clear_requested_at = datetime.now(UTC)
    db.commit()
    run = sync_terminal(db, row, client_for(term, row))
    assert not run.cleared  # nothing to clear
    assert row.log_clear_requested_at is None
    assert row.log_cleared_at is not None


def test_punches_made_during_a_transfer_arrive_with_the_next_sync(
    db: Session, setup: Callable[..., tuple[Any, Any]]
) -> None:
    term, row = setup(users=10, records=9_000)
    term.faults.add_punches_during_transfer(500, at_chunk=1)
    sync_terminal(db, row, client_for(term, row))
    sync_terminal(db, row, client_for(term, row))
    assert term.device.record_count == 9_500
    assert stored(db, term.serial) == on_device(term)


def test_a_drifted_clock_is_reported_and_set_only_when_the_terminal_asks_for_it(
    db: Session, setup: Callable[..., tuple[Any, Any]]
) -> None:
    term, row = setup(users=3, records=5)
    term.device.clock.set(term.device.clock.now() - timedelta(minutes=30))
    run = sync_terminal(db, row, client_for(term, row))
    assert run.clock_offset_s is not None
    assert -1810 < run.clock_offset_s < -1790
    assert abs((datetime.now() - term.device.clock.now()).total_seconds()) > 1700  # untouched
    row.auto_set_clock = True
    db.commit()
    run = sync_terminal(db, row, client_for(term, row), force=True)
    assert run.clock_offset_s is not None
    assert run.clock_offset_s < -1790  # what was found
    assert row.clock_offset_s is not None
    assert abs(row.clock_offset_s) < 5  # what it is now
    assert abs((datetime.now() - term.device.clock.now()).total_seconds()) < 5


def test_a_full_attendance_memory_still_syncs_every_record(
    db: Session, setup: Callable[..., tuple[Any, Any]]
) -> None:
    term, row = setup(users=5, records=400)
    term.faults.fill_memory("records")
    run = sync_terminal(db, row, client_for(term, row))
    assert run.punches_new == 400
    assert stored(db, term.serial) == on_device(term)


@pytest.mark.parametrize("after_bytes", [20, 200, 2_000, 60_000, 150_000])
def test_a_drop_at_any_point_of_the_conversation_is_recovered_exactly(
    db: Session, setup: Callable[..., tuple[Any, Any]], after_bytes: int
) -> None:
    # From the connect reply through the user list into the attendance transfer.
    term, row = setup(model="tft", users=40, records=5_000)
    term.faults.drop_connection(after_bytes=after_bytes)
    with pytest.raises(TerminalError):
        sync_terminal(db, row, client_for(term, row))
    sync_terminal(db, row, client_for(term, row))
    assert stored(db, term.serial) == on_device(term)
    assert count(db, term.serial) == 5_000


def test_sync_now_reports_records_read_of_total_while_the_transfer_runs(
    db: Session, setup: Callable[..., tuple[Any, Any]]
) -> None:
    term, row = setup(users=10, records=30_000)
    seen: list[tuple[str, int, int]] = []
    sync_terminal(db, row, client_for(term, row), progress=lambda *p: seen.append(p))
    reads = [(done, total) for phase, done, total in seen if phase == "read"]
    assert reads[0] == (0, 30_000)
    assert reads[-1] == (30_000, 30_000)
    partial = [done for done, _ in reads if 0 < done < 30_000]
    assert len(partial) >= 5  # the bar moves during the transfer, not just at its end
    assert partial == sorted(partial)
    ingests = [(done, total) for phase, done, total in seen if phase == "ingest"]
    assert ingests[-1] == (30_000, 30_000)


def test_assigning_a_pending_pin_attaches_its_punches_and_only_those(
    db: Session, setup: Callable[..., tuple[Any, Any]]
) -> None:
    from server.audit.services import Actor
    from server.devices.services import assign_pin, pending_pins

    term, row = setup(empty=True)
    term.device.add_user("3003", "New Hire")
    term.device.add_punch("3003", datetime(2026, 11, 2, 9, 0))
    term.device.add_punch("3003", datetime(2026, 11, 2, 17, 0))
    sync_terminal(db, row, client_for(term, row))
    pending = pending_pins(db)
    assert [(m.pin, m.device_name) for m in pending] == [("3003", "New Hire")]
    hire = Employee(employee_code="E-77", given_name="New", family_name="Hire")
    db.add(hire)
    db.flush()
    mapping, attached = assign_pin(
        db, pending[0].id, employee_id=hire.id, actor=Actor.system("test")
    )
    db.commit()
    assert attached == 2
    assert mapping.employee_id == hire.id
    owners = set(db.scalars(select(Punch.employee_id).where(Punch.pin == "3003")))
    assert owners == {hire.id}
    assert pending_pins(db) == []
    # the next punches of that PIN go straight to the employee
    term.device.add_punch("3003", datetime(2026, 11, 3, 9, 0))
    sync_terminal(db, row, client_for(term, row))
    assert set(db.scalars(select(Punch.employee_id).where(Punch.pin == "3003"))) == {hire.id}


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"]
)
def test_the_cached_utc_mapping_agrees_with_the_zone_rules_across_dst_changes(zone: str) -> None:
    from zoneinfo import ZoneInfo

    from terminals.sync import LocalToUtc, local_to_utc

    tz = ZoneInfo(zone)
    mapper = LocalToUtc(tz)
    t = datetime(2026, 3, 1)
    while t < datetime(2026, 12, 1):  # every 7 minutes through both changes of the year
        assert mapper(t) == local_to_utc(t, tz), t
        t += timedelta(minutes=7)
