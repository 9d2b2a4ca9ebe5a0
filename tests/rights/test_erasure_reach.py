# SPDX-License-Identifier: GPL-2.0-or-later
"""Erasure reaches every terminal that held the employee, and restored backups (#7 review).

Terminals are simulated on 127.0.0.1; restored backups are real copies of a SQLite file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from biometrics.keys import KeyEncryptionKey
from server import migrate
from server.audit.models import AuditEvent
from server.db import make_engine, make_sessionmaker, utcnow
from server.devices.models import CommandState, PinMapping, Terminal, TerminalCommand
from server.employees.models import Employee
from server.rights import erasure
from server.rights import services as register
from server.rights.models import ErasureRun, SubjectRequest
from server.settings import load_settings
from terminals.simulator.codec import Cmd
from tests.conftest import is_postgres, run, system_timezone
from tests.enrolment.helpers import ACTOR
from tests.rights.test_erasure import CODE, Site, build_site, drain, run_id, settle

LATER = timedelta(hours=2)
PASSWORD = "correct horse battery"


@pytest.fixture
def kek() -> KeyEncryptionKey:
    return KeyEncryptionKey.generate()


@pytest.fixture
def site(db: Session, simulator: Any, kek: KeyEncryptionKey) -> Site:
    return build_site(db, [simulator.start("tft", empty=True) for _ in range(3)], kek)


def start(db: Session, sessions: sessionmaker[Session], site: Site, data: Path) -> int:
    run = erasure.start_erasure(db, site.request.id, actor=ACTOR)
    db.commit()
    erasure.run_erasure(sessions, run.id, data_dir=data, actor=ACTOR)
    return run.id


def receipt(db: Session, run: int) -> dict[str, Any]:
    db.expire_all()
    found = db.get(ErasureRun, run)
    assert found is not None
    return found.receipt


# --------------------------------------------------------------------------- reach
def test_a_disabled_terminal_gets_the_delete_and_the_request_waits_for_it(
    db: Session,
    sessions: sessionmaker[Session],
    site: Site,
    kek: KeyEncryptionKey,
    tmp_path: Path,
    client: Any,
    login: Callable[[str, str], Any],
    create_account: Callable[..., Any],
) -> None:
    off = site.terminals[2]
    off.enabled = False  # switched off after the employee was put on it
    db.commit()
    run = start(db, sessions, site, tmp_path)
    for t in site.terminals[:2]:  # the worker runs enabled terminals only
        settle(db, [t], kek, later=LATER)
    db.commit()
    outcome = erasure.run_erasure(sessions, run, data_dir=tmp_path, actor=ACTOR)
    assert outcome.state == "waiting_for_terminals"
    assert outcome.waiting_on == [off.serial_number]
    entry = receipt(db, run)["terminals"][off.serial_number]
    assert (entry["state"], entry["reason"]) == ("pending", "disabled")
    assert site.sims[2].device.user_by_id(CODE) is not None  # still there: it is off
    assert db.get(SubjectRequest, site.request.id).status == "waiting_for_terminals"  # type: ignore[union-attr]

    # The request's page names the terminal and why it waits.
    create_account(username="dpo", role="privacy_officer")
    login("dpo", PASSWORD)
    page = client.get(f"/rights/requests/{site.request.id}").get_data(as_text=True)
    assert off.serial_number in page
    assert "The terminal is disabled: its delete runs when it is enabled again." in page

    off.enabled = True  # back on: the worker runs its delete
    db.commit()
    settle(db, [off], kek, later=LATER)
    db.commit()
    outcome = erasure.run_erasure(sessions, run, data_dir=tmp_path, actor=ACTOR)
    assert outcome.state == "completed"
    assert site.sims[2].device.user_by_id(CODE) is None
    assert receipt(db, run)["terminals"][off.serial_number]["state"] == "done"


def test_a_push_terminal_that_held_the_employee_is_listed_as_waiting_with_its_reason(
    db: Session, sessions: sessionmaker[Session], site: Site, kek: KeyEncryptionKey, tmp_path: Path
) -> None:
    push = Terminal(
        serial_number="PUSH0001",
        name="Door",
        transport="push",
        timezone=system_timezone(),
        encoding="utf-8",
        capabilities={},
    )
    db.add(push)
    db.flush()
    db.add(
        PinMapping(
            terminal_id=push.id,
            pin="77",
            employee_id=site.sentinel.id,
            valid_from=utcnow() - timedelta(days=30),
        )
    )
    db.commit()
    run = start(db, sessions, site, tmp_path)
    for t in site.terminals:
        settle(db, [t], kek, later=LATER)
    db.commit()
    outcome = erasure.run_erasure(sessions, run, data_dir=tmp_path, actor=ACTOR)
    assert outcome.state == "waiting_for_terminals"
    assert outcome.waiting_on == ["PUSH0001"]
    entry = receipt(db, run)["terminals"]["PUSH0001"]
    assert (entry["state"], entry["reason"]) == ("pending", "push")
    # The delete waits in the push terminal's outbox, with the PIN it had there.
    command = db.get(TerminalCommand, entry["command"])
    assert command is not None
    assert (command.kind, command.pin, command.state) == ("delete_user", "77", "pending")


def test_a_terminal_deleted_from_rollcall_is_recorded_in_the_receipt_instead_of_waited_for(
    db: Session, sessions: sessionmaker[Session], site: Site, kek: KeyEncryptionKey, tmp_path: Path
) -> None:
    gone_before = site.terminals[0].serial_number  # removed before the erasure; punched there
    db.execute(delete(Terminal).where(Terminal.id == site.terminals[0].id))
    db.commit()
    run = start(db, sessions, site, tmp_path)
    entries = receipt(db, run)["terminals"]
    assert (entries[gone_before]["state"], entries[gone_before]["reason"]) == (
        "removed",
        "not_registered",
    )
    settle(db, [site.terminals[1]], kek, later=LATER)
    gone_during = site.terminals[2].serial_number  # removed while the erasure waited for it
    db.execute(delete(Terminal).where(Terminal.id == site.terminals[2].id))
    db.commit()
    outcome = erasure.run_erasure(sessions, run, data_dir=tmp_path, actor=ACTOR)
    assert outcome.state == "completed"
    entries = receipt(db, run)["terminals"]
    assert entries[site.terminals[1].serial_number]["state"] == "done"
    assert (entries[gone_during]["state"], entries[gone_during]["reason"]) == (
        "removed",
        "terminal_deleted",
    )
    assert erasure.verify_receipt(db, run)


# --------------------------------------------------------------------------- refusals
def test_a_terminal_that_refuses_the_delete_once_is_asked_again_until_it_accepts(
    db: Session, sessions: sessionmaker[Session], site: Site, kek: KeyEncryptionKey, tmp_path: Path
) -> None:
    stubborn = site.terminals[1]
    site.sims[1].faults.fail_command(Cmd.DELETE_USER, times=1)
    run = start(db, sessions, site, tmp_path)
    for t in site.terminals:
        settle(db, [t], kek, later=LATER)
    db.commit()
    outcome = erasure.run_erasure(sessions, run, data_dir=tmp_path, actor=ACTOR)
    assert outcome.waiting_on == [stubborn.serial_number]
    entry = receipt(db, run)["terminals"][stubborn.serial_number]
    assert entry["state"] == "retrying"
    assert "refused" in entry["error"]  # what the terminal answered, for the admin
    # The worker tries again after the backoff; the terminal accepts now.
    settle(db, [stubborn], kek, later=2 * LATER)
    db.commit()
    outcome = erasure.run_erasure(sessions, run, data_dir=tmp_path, actor=ACTOR)
    assert outcome.state == "completed"
    assert site.sims[1].device.user_by_id(CODE) is None


def test_a_delete_the_outbox_gave_up_on_is_queued_again_and_an_admin_can_retry_it_now(
    db: Session, sessions: sessionmaker[Session], site: Site, kek: KeyEncryptionKey, tmp_path: Path
) -> None:
    run = start(db, sessions, site, tmp_path)
    for t in site.terminals[:2]:
        settle(db, [t], kek, later=LATER)
    stubborn = site.terminals[2]
    first = receipt(db, run)["terminals"][stubborn.serial_number]["command"]
    # The outbox marks a command failed when it can never succeed as asked.
    command = db.get(TerminalCommand, first)
    assert command is not None
    command.state = CommandState.FAILED.value
    command.last_error = "the terminal refused the delete"
    command.completed_at = utcnow()
    db.commit()

    outcome = erasure.run_erasure(sessions, run, data_dir=tmp_path, actor=ACTOR)
    assert outcome.waiting_on == [stubborn.serial_number]
    entry = receipt(db, run)["terminals"][stubborn.serial_number]
    assert (entry["state"], entry["failures"]) == ("retrying", 1)
    assert entry["error"] == "the terminal refused the delete"
    again = db.get(TerminalCommand, entry["command"])
    assert again is not None
    assert again.id != first
    assert again.state == "pending"
    assert again.pin == CODE
    # With backoff: not before its time ...
    assert again.next_attempt_at is not None
    assert again.next_attempt_at > utcnow()
    drain(db, stubborn, kek)
    assert site.sims[2].device.user_by_id(CODE) is not None
    # ... unless an admin asks again now.
    assert erasure.retry_terminal_deletes(db, run, actor=ACTOR) == [stubborn.serial_number]
    db.commit()
    settle(db, [stubborn], kek, later=timedelta(0))
    db.commit()
    outcome = erasure.run_erasure(sessions, run, data_dir=tmp_path, actor=ACTOR)
    assert outcome.state == "completed"
    assert site.sims[2].device.user_by_id(CODE) is None
    assert receipt(db, run)["terminals"][stubborn.serial_number]["failures"] == 1
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(run))).all()
    assert "rights.erasure_retried" in actions


def test_resume_erasure_starts_or_asks_the_terminals_again(
    db: Session, sessions: sessionmaker[Session], site: Site, kek: KeyEncryptionKey, tmp_path: Path
) -> None:
    run = erasure.resume_erasure(db, site.request.id, actor=ACTOR)  # none yet: started
    db.commit()
    erasure.run_erasure(sessions, run.id, data_dir=tmp_path, actor=ACTOR)
    db.expire_all()
    assert db.get(SubjectRequest, site.request.id).status == "waiting_for_terminals"  # type: ignore[union-attr]
    again = erasure.resume_erasure(db, site.request.id, actor=ACTOR)
    assert again.id == run.id
    db.commit()
    for t in site.terminals:
        settle(db, [t], kek, later=timedelta(0))  # due now, no backoff
    db.commit()
    assert erasure.run_erasure(sessions, run.id, data_dir=tmp_path, actor=ACTOR).state == (
        "completed"
    )


# --------------------------------------------------------------------------- tombstones
def erase_one(sessions: sessionmaker[Session], code: str, data: Path) -> tuple[int, int]:
    """Create an employee and erase them (no terminal): (run id, employee id)."""
    with sessions() as db:
        x = Employee(employee_code=code, given_name="Xavier", family_name="Gone")
        db.add(x)
        db.flush()
        req = register.receive_request(db, employee_id=x.id, kind="erasure", actor=ACTOR)
        register.verify_identity(db, req.id, method="in_person", actor=ACTOR)
        register.start_work(db, req.id, actor=ACTOR)
        run = erasure.start_erasure(db, req.id, actor=ACTOR)
        db.commit()
        ids = (run.id, x.id)
    assert erasure.run_erasure(sessions, ids[0], data_dir=data, actor=ACTOR).state == "completed"
    return ids


@pytest.fixture
def two_databases(
    fresh_database: Callable[[], str],
) -> Any:
    engines = []

    def make() -> sessionmaker[Session]:
        url = fresh_database()
        migrate.upgrade(url)
        engine = make_engine(url)
        engines.append(engine)
        return make_sessionmaker(engine)

    yield make
    for engine in engines:
        engine.dispose()


def test_a_tombstone_never_erases_a_new_hire_who_got_the_same_id(
    two_databases: Callable[[], sessionmaker[Session]], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = two_databases()
    run, xid = erase_one(first, "X1", data)
    line = json.loads((data / erasure.TOMBSTONE_FILE).read_text().strip())
    assert set(line) == {"v", "run", "employee", "request", "erased_at", "employee_created_at"}
    # A backup from before X was hired is restored; a new hire gets X's id.
    restored = two_databases()
    with restored() as db:
        y = Employee(employee_code="Y1", given_name="Yvonne", family_name="Newhire")
        db.add(y)
        db.commit()
        assert y.id == xid
    with restored() as db:
        found = erasure.check_tombstones(db, data_dir=data)
        assert [t.run_id for t in found[erasure.Match.OTHER]] == [run]
        assert erasure.unapplied_erasures_message(found) is None  # nothing to replay
    report = erasure.replay_erasures(restored, data_dir=data, actor=ACTOR)
    assert report.outcomes == []
    assert report.other_record == [(run, xid)]
    with restored() as db:
        y2 = db.get(Employee, xid)
        assert y2 is not None
        assert (y2.given_name, y2.employee_code, y2.erased_at) == ("Yvonne", "Y1", None)
        refused = db.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "rights.erasure_replay_refused")
        ).all()
        assert refused == ["rights.erasure_replay_refused"]


def test_an_old_tombstone_is_replayed_only_onto_a_record_older_than_the_erasure(
    two_databases: Callable[[], sessionmaker[Session]], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    sessions = two_databases()
    with sessions() as db:
        old = Employee(employee_code="O1", given_name="Olga", family_name="Old")
        db.add(old)
        db.commit()
        # First-format lines (id only): one written after Olga's record was made, one
        # written before the record that now has id 2 existed.
        made = old.created_at
    newer_id = old.id + 1
    lines = [
        {"run": 41, "employee": old.id, "request": None, "erased_at": made + timedelta(days=1)},
        {"run": 42, "employee": newer_id, "request": None, "erased_at": made - timedelta(days=1)},
    ]
    (data / erasure.TOMBSTONE_FILE).write_text(
        "".join(
            json.dumps({**item, "erased_at": item["erased_at"].isoformat(timespec="seconds")})
            + "\n"
            for item in lines
        )
    )
    with sessions() as db:
        db.add(Employee(employee_code="N1", given_name="Nina", family_name="New"))
        db.commit()
        assert db.get(Employee, newer_id) is not None
    with sessions() as db:
        message = erasure.unapplied_erasures_message(erasure.check_tombstones(db, data_dir=data))
        assert message is not None
        assert "runs 41)" in message
    report = erasure.replay_erasures(sessions, data_dir=data, actor=ACTOR)
    assert [o.state for o in report.outcomes] == ["completed"]
    assert report.newer_record == [(42, newer_id)]
    with sessions() as db:
        assert db.get(Employee, old.id).erased_at is not None  # type: ignore[union-attr]
        assert db.get(Employee, newer_id).given_name == "Nina"  # type: ignore[union-attr]
    # Idempotent: the second replay erases nothing more and counts what it skipped.
    again = erasure.replay_erasures(sessions, data_dir=data, actor=ACTOR)
    assert (again.outcomes, again.already_erased, again.newer_record) == (
        [],
        1,
        [(42, newer_id)],
    )
    assert len((data / erasure.TOMBSTONE_FILE).read_text().splitlines()) == 2  # none added


def test_the_tombstone_is_written_as_soon_as_the_database_is_erased(
    db: Session, sessions: sessionmaker[Session], site: Site, kek: KeyEncryptionKey, tmp_path: Path
) -> None:
    """A backup restored while the erasure waits for a terminal must be caught too."""
    site.sims[2].stop()
    run = start(db, sessions, site, tmp_path)
    assert run == run_id(db, site)
    tombs = erasure.read_tombstones(tmp_path / erasure.TOMBSTONE_FILE)
    assert [(t.run_id, t.employee_id) for t in tombs] == [(run, site.sentinel.id)]
    assert tombs[0].employee_created_at == site.sentinel.created_at


def test_a_crash_after_the_tombstone_is_an_erasure_in_progress_not_a_restored_backup(
    db: Session, sessions: sessionmaker[Session], site: Site, kek: KeyEncryptionKey, tmp_path: Path
) -> None:
    """The tombstone goes to its file before the employee step commits: a crash between
    the two leaves a tombstone of someone not erased yet. That is no restored backup (the
    run is here, unfinished): Rollcall starts, and the worker finishes the erasure."""
    run = erasure.start_erasure(db, site.request.id, actor=ACTOR)
    db.commit()
    erasure.append_tombstone(
        tmp_path / erasure.TOMBSTONE_FILE,
        erasure.Tombstone(
            run_id=run.id,
            employee_id=site.sentinel.id,
            request_id=site.request.id,
            erased_at=utcnow(),
            employee_created_at=site.sentinel.created_at,
        ),
    )
    found = erasure.check_tombstones(db, data_dir=tmp_path)
    assert [t.run_id for t in found[erasure.Match.IN_PROGRESS]] == [run.id]
    assert found[erasure.Match.PENDING] == []
    assert erasure.unapplied_erasures_message(found) is None
    # The worker resumes it; then it is an erasure like any other.
    outcomes = erasure.resume_waiting(sessions, data_dir=tmp_path, actor=ACTOR)
    assert [o.run_id for o in outcomes] == [run.id]
    db.expire_all()
    assert erasure.check_tombstones(db, data_dir=tmp_path)[erasure.Match.ERASED]


# --------------------------------------------------------------------------- restored backup
def test_rollcall_does_not_start_on_a_restored_backup_until_the_erasures_are_replayed(
    cli_instance: tuple[Path, str], tmp_path: Path
) -> None:
    home, _ = cli_instance
    settings = load_settings(home, environ={})
    if is_postgres(settings.database_url):
        pytest.skip("a file copy of the database is shown on SQLite")
    path = Path(settings.database_url.removeprefix("sqlite:///"))
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    with sessions() as db:
        db.add(Employee(employee_code="B0", given_name="Bea", family_name="Before"))
        db.commit()
    backup = tmp_path / "backup.db"
    with sessions() as db:  # the backup holds Xavier, not yet erased
        x = Employee(employee_code="X9", given_name="Xavier", family_name="Gone")
        db.add(x)
        db.commit()
    with sqlite3.connect(path) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)
    with sessions() as db:
        req = register.receive_request(db, employee_id=x.id, kind="erasure", actor=ACTOR)
        register.verify_identity(db, req.id, method="in_person", actor=ACTOR)
        register.start_work(db, req.id, actor=ACTOR)
        erasure_run = erasure.start_erasure(db, req.id, actor=ACTOR)
        db.commit()
    outcome = erasure.run_erasure(sessions, erasure_run.id, data_dir=settings.data_dir, actor=ACTOR)
    assert outcome.state == "completed"
    engine.dispose()
    assert run(home, "check").returncode == 0

    with sqlite3.connect(backup) as src, sqlite3.connect(path) as dst:  # the restore
        src.backup(dst)
    for command in (("check",), ("serve",), ("worker", "--once")):
        refused = run(home, *command)
        assert refused.returncode == 1, (command, refused.stdout, refused.stderr)
        assert "not applied to this database" in refused.stderr
        assert "rollcall rights replay-erasures" in refused.stderr

    replayed = run(home, "rights", "replay-erasures")
    assert replayed.returncode == 0, replayed.stderr
    assert "Replayed 1 erasure(s)" in replayed.stdout
    assert run(home, "check").returncode == 0
    again = run(home, "rights", "replay-erasures")
    assert "Replayed 0 erasure(s); 0 waiting for terminals; 1 already erased" in again.stdout
    engine = make_engine(settings.database_url)
    with make_sessionmaker(engine)() as db:
        erased = db.get(Employee, x.id)
        assert erased is not None
        assert erased.erased_at is not None
        assert erased.given_name == ""
        assert db.scalars(select(Employee.given_name).where(Employee.id == 1)).one() == "Bea"
    engine.dispose()
