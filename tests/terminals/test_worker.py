# SPDX-License-Identifier: GPL-2.0-or-later
"""The worker: every terminal on its own schedule, in parallel, one worker per terminal."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from server import migrate
from server.attendance.models import Punch
from server.db import make_engine, make_sessionmaker, utcnow
from server.devices.models import SyncRun, Terminal
from server.settings import system_timezone
from terminals.base import Endpoint
from terminals.worker import Worker
from terminals.zk.client import ZkClient


@pytest.fixture
def own_db(fresh_database: Callable[[], str]) -> Iterator[Engine]:
    """A database of the worker's own: it commits from several threads."""
    url = fresh_database()
    migrate.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def add_terminals(sessions: sessionmaker[Session], sims: list[Any]) -> dict[str, int]:
    ids = {}
    with sessions() as db:
        for sim in sims:
            t = Terminal(
                serial_number=sim.serial,
                name=sim.serial,
                host=sim.host,
                port=sim.port,
                transport="tcp",
                timezone=system_timezone(),
                encoding="utf-8",
                capabilities={},
            )
            db.add(t)
            db.flush()
            ids[sim.serial] = t.id
        db.commit()
    return ids


def connect(terminal: Terminal) -> ZkClient:
    return ZkClient(Endpoint(host=terminal.host or "", port=terminal.port or 0, timeout_s=3))


def test_one_pass_syncs_every_terminal_and_a_dead_one_backs_off(
    own_db: Engine, simulator: Any
) -> None:
    sims = [simulator.start(users=8, records=200 + i) for i in range(5)]
    dead = simulator.start(users=3, records=10)
    sessions = make_sessionmaker(own_db)
    ids = add_terminals(sessions, [*sims, dead])
    dead.stop()
    worker = Worker(sessions, connect, name="w1", threads=3)
    worker.run_once(timeout=120)
    worker.shutdown()
    with sessions() as db:
        for i, sim in enumerate(sims):
            stored = db.scalar(
                select(func.count()).select_from(Punch).where(Punch.terminal_serial == sim.serial)
            )
            assert stored == 200 + i
        bad = db.get(Terminal, ids[dead.serial])
        assert bad is not None
        assert bad.consecutive_failures == 1
        assert bad.next_attempt_at is not None
        assert bad.next_attempt_at > utcnow() + timedelta(seconds=200)
        assert bad.lease_owner is None  # released even after a failure
        good = db.get(Terminal, ids[sims[0].serial])
        assert good is not None
        assert good.next_attempt_at is not None
        assert good.last_success_at is not None


def test_a_slow_terminal_does_not_delay_the_others(own_db: Engine, simulator: Any) -> None:
    slow = simulator.start(users=5, records=50)
    fast = [simulator.start(users=5, records=50) for _ in range(3)]
    slow.faults.set_latency(0.3)  # every reply of the slow one waits
    sessions = make_sessionmaker(own_db)
    ids = add_terminals(sessions, [slow, *fast])
    worker = Worker(sessions, connect, name="w1", threads=4)
    worker.run_once(timeout=120)
    worker.shutdown()
    with sessions() as db:
        finished = dict(db.execute(select(SyncRun.terminal_id, SyncRun.finished_at)).all())
    slow_done = finished[ids[slow.serial]]
    assert all(finished[ids[s.serial]] < slow_done for s in fast)


def test_two_workers_never_sync_the_same_terminal_at_once(own_db: Engine, simulator: Any) -> None:
    sims = [simulator.start(users=5, records=300) for _ in range(8)]
    for sim in sims:
        sim.faults.set_latency(0.01)
    sessions = make_sessionmaker(own_db)
    add_terminals(sessions, sims)
    workers = [
        Worker(make_sessionmaker(own_db), connect, name=f"w{i}", threads=3) for i in range(2)
    ]
    threads = [threading.Thread(target=w.run_once, kwargs={"timeout": 120}) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in workers:
        w.shutdown()
    with sessions() as db:
        runs = db.execute(select(SyncRun.terminal_id, func.count()).group_by(SyncRun.terminal_id))
        assert {count for _tid, count in runs} == {1}
        assert db.scalar(select(func.count()).select_from(Punch)) == 8 * 300
        by_worker = set(db.scalars(select(SyncRun.worker)))
    assert by_worker <= {"w0", "w1"}


def test_an_expired_lease_of_a_dead_worker_is_taken_over(own_db: Engine, simulator: Any) -> None:
    sim = simulator.start(users=5, records=100)
    sessions = make_sessionmaker(own_db)
    ids = add_terminals(sessions, [sim])
    with sessions() as db:
        t = db.get(Terminal, ids[sim.serial])
        assert t is not None
        t.lease_owner, t.lease_until = "dead-worker", utcnow() + timedelta(seconds=1)
        db.commit()
    worker = Worker(sessions, connect, name="alive", threads=1)
    assert not worker.step()  # still held
    time.sleep(1.2)
    worker.run_once(timeout=60)
    worker.shutdown()
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Punch)) == 100


@pytest.mark.parametrize("model", ["bw", "tft"])
def test_realtime_mode_stores_a_punch_the_moment_it_is_made(
    own_db: Engine, simulator: Any, model: str
) -> None:
    sim = simulator.start(model=model, users=5, records=20)
    sessions = make_sessionmaker(own_db)
    add_terminals(sessions, [sim])
    with sessions() as db:
        db.execute(Terminal.__table__.update().values(sync_interval_s=3600))
        db.commit()
    worker = Worker(sessions, connect, name="live", threads=2, realtime=True)
    runner = threading.Thread(target=worker.run, kwargs={"idle_sleep": 0.2})
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the catch-up sync
            with sessions() as db:
                if db.scalar(select(func.count()).select_from(Punch)) == 20:
                    break
            time.sleep(0.1)
        time.sleep(1.5)  # the capture is registered
        pin = sim.device.users()[0].user_id
        made = sim.device.add_punch(pin, sim.device.clock.now())
        deadline = time.monotonic() + 10
        found = 0
        while time.monotonic() < deadline and found < 21:
            with sessions() as db:
                found = db.scalar(select(func.count()).select_from(Punch)) or 0
            time.sleep(0.1)
        assert found == 21, "the live punch did not arrive within 10 s"
        with sessions() as db:
            newest = db.scalars(select(Punch).order_by(Punch.id.desc())).first()
        assert newest is not None
        assert (newest.pin, newest.device_time) == (made.user_id, made.timestamp)
    finally:
        worker.stop.set()
        runner.join(timeout=30)
    assert not runner.is_alive()


@pytest.mark.parametrize("realtime", [False, True])
def test_a_queued_command_runs_within_seconds_without_waiting_for_the_sync_interval(
    own_db: Engine, simulator: Any, realtime: bool
) -> None:
    from server.devices import distribution
    from server.devices.models import CommandKind, TerminalCommand
    from server.employees.models import Employee

    sim = simulator.start(model="tft", users=3, records=5)
    sessions = make_sessionmaker(own_db)
    add_terminals(sessions, [sim])
    with sessions() as db:
        db.execute(Terminal.__table__.update().values(sync_interval_s=3600))
        db.commit()
    worker = Worker(sessions, connect, name="w", threads=2, realtime=realtime)
    runner = threading.Thread(target=worker.run, kwargs={"idle_sleep": 0.2})
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the first sync is done; the next is an hour off
            with sessions() as db:
                if db.scalar(select(func.count()).select_from(SyncRun)):
                    break
            time.sleep(0.1)
        time.sleep(1.5)
        victim = sim.device.users()[0].user_id
        with sessions() as db:
            e = Employee(employee_code=victim, given_name="Gone", family_name="Person")
            db.add(e)
            db.flush()
            terminal = db.scalars(select(Terminal)).one()
            distribution.queue_command(
                db, terminal, CommandKind.DELETE_USER, cause="test", employee_id=e.id, pin=victim
            )
            db.commit()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and sim.device.user_by_id(victim) is not None:
            time.sleep(0.1)
        assert sim.device.user_by_id(victim) is None, "the command did not run within 15 s"
        states: list[str] = []
        while time.monotonic() < deadline and states != ["done"]:  # recorded after the ack
            with sessions() as db:
                states = list(db.scalars(select(TerminalCommand.state)))
            time.sleep(0.05)
        assert states == ["done"]
        with sessions() as db:
            assert db.scalar(select(func.count()).select_from(SyncRun)) == 1
    finally:
        worker.stop.set()
        runner.join(timeout=30)
    assert not runner.is_alive()
