# SPDX-License-Identifier: GPL-2.0-or-later
"""Erasure that reaches every terminal (issue #7), against three simulated terminals.

A sentinel employee carries a unique canary value in every category of personal data; a
control employee is set up the same way and must come out unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from biometrics.keys import KeyEncryptionKey
from server import migrate
from server.attendance import corrections
from server.attendance.models import Punch, PunchCorrection
from server.audit.models import AuditEvent
from server.audit.services import Actor, record_event, verify_chain
from server.auth.models import Account
from server.db import make_engine, make_sessionmaker, utcnow
from server.devices import distribution
from server.devices.models import Terminal, TerminalCommand
from server.employees.models import Employee
from server.employees.services import set_device_password
from server.enrolment import services as vault
from server.enrolment.models import BiometricTemplate, DataKey
from server.errors import ConflictError, ValidationError
from server.organization.models import Area
from server.privacy.models import Consent
from server.rights import erasure
from server.rights import services as register
from server.rights.access import build_access_package
from server.rights.downloads import create_download
from server.rights.models import ErasureRun, SubjectRequest
from terminals.base import Endpoint, TerminalError
from terminals.outbox import run_commands
from terminals.simulator.server import SimulatedTerminal
from terminals.sync import sync_terminal
from terminals.zk.client import ZkClient
from tests.conftest import is_postgres, system_timezone
from tests.enrolment.helpers import ACTOR, consent, ready_organization

# Unique values, one per category; none of them may survive the erasure (the kept time
# records and consent proof go when their retention ends).
CANARY = {
    "given_name": "Qzcanarygiven",
    "family_name": "Qzcanaryfamily",
    "device_name": "QZCANARYDEV",
    "email": "qz.canary.mail@example.invalid",
    "phone": "+99 5550 9137",
    "card_number": "918273645",
    "password": "73915",
    "evidence_ref": "QZ-CANARY-CONSENT-SCAN",
    "note": "QZ canary correction note",
}
CODE = "880011223"  # the sentinel's employee code and PIN (kept in time records for now)
TEMPLATES = {
    0: b"\x4d\x98SS21\x00\x00QZ-CANARY-FINGER-0-" + bytes(range(160)) + b"\x5a",
    1: b"\x4d\x98SS21\x00\x00QZ-CANARY-FINGER-1-" + bytes(range(150)) + b"\x5a",
}
CONTROL_TEMPLATE = b"\x4d\x98SS21\x00\x00CONTROL-FINGER-" + bytes(range(140)) + b"\x5a"
# The correction's note is free text: anonymized, though the correction itself is kept.
DELETED_OR_ANONYMIZED = (
    [
        CANARY[k].encode()
        for k in ("given_name", "family_name", "device_name", "email", "phone", "card_number")
    ]
    + [t[8:30] for t in TEMPLATES.values()]
    + [CANARY["note"].encode()]
)
KEPT_RESTRICTED = [CANARY["evidence_ref"].encode()]


@dataclass
class Site:
    sims: list[SimulatedTerminal]
    terminals: list[Terminal]
    sentinel: Employee
    control: Employee
    request: SubjectRequest
    approver: Actor


def client(terminal: Terminal) -> ZkClient:
    return ZkClient(Endpoint(host=terminal.host or "", port=terminal.port or 0, timeout_s=3))


def drain(db: Session, terminal: Terminal, kek: KeyEncryptionKey, **kwargs: Any) -> Any:
    return run_commands(db, terminal, client(terminal), kek=kek, **kwargs)


def terminal_row(db: Session, sim: SimulatedTerminal) -> Terminal:
    terminal = Terminal(
        serial_number=sim.serial,
        name="Gate",
        host=sim.host,
        port=sim.port,
        transport="tcp",
        timezone=system_timezone(),
        encoding=sim.device.profile.encoding,
        capabilities={},  # keeps its log (the default): the erasure has it cleared
    )
    db.add(terminal)
    db.flush()
    return terminal


def account(db: Session, username: str) -> Actor:
    row = Account(username=username, display_name=username, password_hash="x", role="admin")
    db.add(row)
    db.flush()
    return Actor("account", row.id)


def build_site(db: Session, sims: list[SimulatedTerminal], kek: KeyEncryptionKey) -> Site:
    """Both employees on three terminals with templates, card and terminal password; punches
    made at the terminals and synced (logs cleared); a corrected punch; an erasure request
    for the sentinel, identity verified and started."""
    notice = ready_organization(db)
    gate = Area(code="GATE", name="Gate")
    db.add(gate)
    db.flush()
    terminals = [terminal_row(db, sim) for sim in sims]
    for t in terminals:
        distribution.set_terminal_area(db, t.id, gate.id, actor=ACTOR)
    sentinel = Employee(
        employee_code=CODE,
        given_name=CANARY["given_name"],
        family_name=CANARY["family_name"],
        device_name=CANARY["device_name"],
        email=CANARY["email"],
        phone=CANARY["phone"],
        card_number=CANARY["card_number"],
        date_of_birth=date(1979, 11, 3),
        hire_date=date(2020, 1, 6),
    )
    control = Employee(
        employee_code="4100",
        given_name="Carla",
        family_name="Control",
        email="carla@example.invalid",
        card_number="4242",
        date_of_birth=date(1990, 5, 17),
    )
    db.add_all([sentinel, control])
    db.flush()
    for person, templates in ((sentinel, TEMPLATES), (control, {0: CONTROL_TEMPLATE})):
        consent(
            db,
            person,
            notice,
            evidence_ref=CANARY["evidence_ref"] if person is sentinel else "scan-c",
        )
        for index, data in templates.items():
            vault.store_template(
                db,
                employee_id=person.id,
                kind="finger",
                index=index,
                format_version=10,
                template=data,
                source_terminal_serial=None,
                kek=kek,
                actor=ACTOR,
            )
        distribution.set_employee_areas(db, person.id, [gate.id], actor=ACTOR)
    set_device_password(db, sentinel.id, CANARY["password"], kek=kek, actor=ACTOR)
    db.commit()
    for t in terminals:
        drain(db, t, kek)
    for sim in sims:
        for pin in (CODE, "4100"):
            sim.device.add_punch(pin, sim.device.clock.now() - timedelta(hours=2))
    for t in terminals:
        sync_terminal(db, t, client(t))
    author, approver = account(db, "hr-author"), account(db, "hr-approver")
    punch_id = db.scalars(
        select(Punch.id).where(Punch.employee_id == sentinel.id).order_by(Punch.id)
    ).first()
    assert punch_id is not None
    fix = corrections.propose_correction(
        db,
        punch_id,
        action="amend",
        punch_state=1,
        reason="wrong_state",
        note=CANARY["note"],
        actor=author,
    )
    corrections.approve_correction(db, fix.id, actor=approver)
    req = register.receive_request(db, employee_id=sentinel.id, kind="erasure", actor=ACTOR)
    register.verify_identity(db, req.id, method="in_person", actor=ACTOR)
    register.start_work(db, req.id, actor=ACTOR)
    db.commit()
    return Site(sims, terminals, sentinel, control, req, approver)


def memory(sim: SimulatedTerminal) -> bytes:
    d = sim.device
    return d.users_data() + d.attendance_data() + d.templates_data()


def snapshot(db: Session, person: Employee) -> dict[str, Any]:
    db.expire_all()
    row = db.get(Employee, person.id)
    assert row is not None
    return {
        "profile": {c.name: getattr(row, c.name) for c in Employee.__table__.columns},
        "punches": db.scalar(
            select(func.count()).select_from(Punch).where(Punch.employee_id == person.id)
        ),
        "templates": db.scalar(
            select(func.count())
            .select_from(BiometricTemplate)
            .where(BiometricTemplate.employee_id == person.id)
        ),
    }


@pytest.fixture
def kek() -> KeyEncryptionKey:
    return KeyEncryptionKey.generate()


@pytest.fixture
def site(db: Session, simulator: Any, kek: KeyEncryptionKey) -> Site:
    return build_site(db, [simulator.start("tft", empty=True) for _ in range(3)], kek)


def finish(
    sessions: sessionmaker[Session], db: Session, site: Site, kek: KeyEncryptionKey, data: Path
) -> erasure.ErasureOutcome:
    """Run the erasure, let every terminal's outbox run and then its sync (which clears
    the log the delete asked to clear), and run the erasure again."""
    run = run_id(db, site)
    db.commit()  # SQLite: no transaction of ours held while the executor writes
    erasure.run_erasure(sessions, run, data_dir=data, actor=ACTOR)
    settle(db, site.terminals, kek)
    return erasure.run_erasure(sessions, run, data_dir=data, actor=ACTOR)


def settle(
    db: Session,
    terminals: list[Terminal],
    kek: KeyEncryptionKey,
    *,
    later: timedelta = timedelta(hours=2),
) -> None:
    """What the worker does at its next passes: each terminal's outbox (``later`` than
    now, so retries are due), then its sync, which clears the log an erasure asked for."""
    for t in terminals:
        drain(db, t, kek, clock=lambda: utcnow() + later)
        db.commit()
        if t.enabled:
            with contextlib.suppress(TerminalError):  # offline: the worker tries again
                sync_terminal(db, t, client(t))
    db.commit()


def run_id(db: Session, site: Site) -> int:
    found = db.scalar(select(ErasureRun.id).where(ErasureRun.request_id == site.request.id))
    assert found is not None
    return int(found)


# --------------------------------------------------------------------------- behaviour
def test_the_access_package_holds_every_category_including_corrections(
    db: Session, site: Site
) -> None:
    package = build_access_package(db, site.sentinel.id, actor=ACTOR)
    assert {"employees", "punches", "punch_corrections", "consents", "biometric_templates"} <= {
        t for t, rows in package.data.items() if rows
    }
    assert package.data["punch_corrections"][0]["note"] == CANARY["note"]
    # Templates are described, never exported.
    assert b"QZ-CANARY-FINGER" not in package.to_zip()
    assert "ciphertext" not in package.data["biometric_templates"][0]


def test_erasure_reaches_every_terminal_and_leaves_the_control_unchanged(
    db: Session,
    sessions: sessionmaker[Session],
    site: Site,
    kek: KeyEncryptionKey,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    before = snapshot(db, site.control)
    run = erasure.start_erasure(db, site.request.id, actor=ACTOR)
    db.commit()
    outcome = erasure.run_erasure(sessions, run.id, data_dir=tmp_path, actor=ACTOR)
    assert outcome.state == "waiting_for_terminals"
    assert outcome.waiting_on == sorted(t.serial_number for t in site.terminals)
    db.expire_all()
    assert db.get(SubjectRequest, site.request.id).status == "waiting_for_terminals"  # type: ignore[union-attr]
    # The server side is done while terminals are pending: the data key is gone.
    assert db.scalars(select(DataKey).where(DataKey.employee_id == site.sentinel.id)).all() == []

    outcome = finish(sessions, db, site, kek, tmp_path)
    assert outcome.state == "completed"
    db.expire_all()
    done = db.get(ErasureRun, run.id)
    assert done is not None
    receipt = done.receipt
    assert {t["state"] for t in receipt["terminals"].values()} == {"done"}
    assert {t["templates_deleted"] for t in receipt["terminals"].values()} == {2}
    assert receipt["tables"]["biometric_templates"] == {"action": "delete", "rows": 2}
    assert receipt["tables"]["punches"]["action"] == "keep-restricted"
    assert receipt["tables"]["punches"]["rows"] == 3
    assert receipt["tables"]["employees"]["action"] == "anonymize"
    assert erasure.verify_receipt(db, run.id)
    assert verify_chain(db).ok
    assert db.get(SubjectRequest, site.request.id).status == "completed"  # type: ignore[union-attr]

    # On the terminals: nothing of the sentinel; the control still there with its finger.
    for sim in site.sims:
        assert sim.device.user_by_id(CODE) is None
        raw = memory(sim)
        assert not any(c in raw for c in DELETED_OR_ANONYMIZED)
        assert CODE.encode() not in raw
        control_user = sim.device.user_by_id("4100")
        assert control_user is not None
        assert [t.template for t in sim.device.templates() if t.uid == control_user.uid] == [
            CONTROL_TEMPLATE
        ]
    # In the database: the profile anonymized, kept records restricted, the control intact.
    erased = db.get(Employee, site.sentinel.id)
    assert erased is not None
    assert erased.erased_at is not None
    assert erased.restricted_at is not None
    assert (erased.given_name, erased.email, erased.card_number) == ("", None, None)
    assert erased.employee_code == f"erased-{erased.id}"
    assert (
        db.scalar(
            select(func.count())
            .select_from(TerminalCommand)
            .where(TerminalCommand.employee_id == site.sentinel.id)
        )
        == 0
    )
    assert snapshot(db, site.control) == before
    assert vault.read_templates(db, site.control.id, kek=kek, actor=ACTOR, purpose="test")[
        0
    ].template == (CONTROL_TEMPLATE)
    logged = caplog.text + "".join(str(d) for d in db.scalars(select(AuditEvent.details)).all())
    assert not any(c.decode() in logged for c in DELETED_OR_ANONYMIZED + KEPT_RESTRICTED)
    tomb = erasure.read_tombstones(tmp_path / erasure.TOMBSTONE_FILE)
    assert [(t.run_id, t.employee_id) for t in tomb] == [(run.id, site.sentinel.id)]


def test_a_terminal_offline_keeps_the_request_open_until_it_returns(
    db: Session, sessions: sessionmaker[Session], site: Site, kek: KeyEncryptionKey, tmp_path: Path
) -> None:
    site.sims[2].stop()
    run = erasure.start_erasure(db, site.request.id, actor=ACTOR)
    db.commit()
    outcome = finish(sessions, db, site, kek, tmp_path)
    assert outcome.state == "waiting_for_terminals"
    assert outcome.waiting_on == [site.terminals[2].serial_number]
    db.expire_all()
    assert db.get(SubjectRequest, site.request.id).status == "waiting_for_terminals"  # type: ignore[union-attr]
    # The tombstone is written once the database is erased, not when terminals confirm:
    # a backup restored meanwhile is caught (test_erasure_reach.py).
    assert [t.run_id for t in erasure.read_tombstones(tmp_path / erasure.TOMBSTONE_FILE)] == [
        run.id
    ]

    site.sims[2].start()
    for hours in (2, 4, 8):  # the worker retries with backoff until the terminal answers
        drain(db, site.terminals[2], kek, clock=lambda h=hours: utcnow() + timedelta(hours=h))
    assert site.sims[2].device.user_by_id(CODE) is None
    # The user is gone; the attendance log, which holds their punches, is still to clear.
    outcome = erasure.run_erasure(sessions, run.id, data_dir=tmp_path, actor=ACTOR)
    assert outcome.waiting_on == [site.terminals[2].serial_number]
    db.expire_all()
    entry = db.get(ErasureRun, run.id).receipt["terminals"][site.terminals[2].serial_number]  # type: ignore[union-attr]
    assert entry["state"] == "clearing_log"
    assert site.sims[2].device.record_count > 0
    synced = sync_terminal(db, site.terminals[2], client(site.terminals[2]))
    assert synced.cleared  # read into Rollcall first, then cleared
    assert site.sims[2].device.record_count == 0
    outcome = erasure.run_erasure(sessions, run.id, data_dir=tmp_path, actor=ACTOR)
    assert outcome.state == "completed"
    db.expire_all()
    assert db.get(ErasureRun, run.id).state == "completed"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "crash_at", ["terminals", "table:biometric_templates", "employee", "receipt"]
)
def test_a_crash_mid_erasure_resumes_without_repeating_or_skipping_a_step(
    db: Session,
    sessions: sessionmaker[Session],
    site: Site,
    kek: KeyEncryptionKey,
    tmp_path: Path,
    crash_at: str,
) -> None:
    run = erasure.start_erasure(db, site.request.id, actor=ACTOR)
    db.commit()

    class CrashError(Exception):
        pass

    def crash(step: str) -> None:
        if step == crash_at:
            raise CrashError(step)

    try:
        outcome = erasure.run_erasure(
            sessions, run.id, data_dir=tmp_path, actor=ACTOR, after_step=crash
        )
    except CrashError:
        pass
    else:  # the crash comes after the terminals confirmed
        assert outcome.state == "waiting_for_terminals"
        settle(db, site.terminals, kek)  # deleted, and the logs cleared by the syncs
        with pytest.raises(CrashError):
            erasure.run_erasure(sessions, run.id, data_dir=tmp_path, actor=ACTOR, after_step=crash)
    db.expire_all()
    plan = db.get(ErasureRun, run.id).receipt["plan"]  # type: ignore[union-attr]
    assert db.get(ErasureRun, run.id).next_step == plan.index(crash_at)  # type: ignore[union-attr]
    finish(sessions, db, site, kek, tmp_path)
    db.expire_all()
    done = db.get(ErasureRun, run.id)
    assert done is not None
    assert done.state == "completed"
    steps = db.scalars(
        select(AuditEvent.details).where(
            AuditEvent.action == "rights.erasure_step", AuditEvent.object_id == str(run.id)
        )
    ).all()
    names = [d["step"] for d in steps]
    assert sorted(names) == sorted(set(names))  # each step logged once
    assert done.receipt["tables"]["biometric_templates"]["rows"] == 2
    assert len(done.receipt["terminals"]) == 3
    assert erasure.verify_receipt(db, run.id)


def test_kept_records_go_when_their_retention_ends(
    db: Session, sessions: sessionmaker[Session], site: Site, kek: KeyEncryptionKey, tmp_path: Path
) -> None:
    run = erasure.start_erasure(db, site.request.id, actor=ACTOR)
    db.commit()
    finish(sessions, db, site, kek, tmp_path)
    db.expire_all()
    kept_until = db.get(ErasureRun, run.id).receipt["tables"]["punches"]["kept_until"]  # type: ignore[union-attr]
    assert date.fromisoformat(kept_until) > date.today() + timedelta(days=3 * 365 - 3)
    assert erasure.purge_expired(db, now=utcnow() + timedelta(days=365), actor=ACTOR) == {}
    removed = erasure.purge_expired(db, now=utcnow() + timedelta(days=4 * 366), actor=ACTOR)
    assert removed["punches"] == 3
    assert removed["punch_corrections"] == 1
    assert removed["consents"] == 1
    mine = Punch.employee_id == site.sentinel.id
    assert db.scalar(select(func.count()).select_from(Punch).where(mine)) == 0
    assert (
        db.scalar(
            select(func.count()).select_from(Punch).where(Punch.employee_id == site.control.id)
        )
        == 3
    )  # the control's records are not erased, whatever their age
    assert db.scalars(select(Consent).where(Consent.employee_id == site.sentinel.id)).all() == []


def test_the_operation_log_outlives_six_months_an_erasure_and_the_daily_purge(
    db: Session, sessions: sessionmaker[Session], site: Site, kek: KeyEncryptionKey, tmp_path: Path
) -> None:
    """Entries are kept at least six months (#6, CSL art. 21), also about an erased person:
    restricted, never deleted by the erasure or by the worker's daily retention purge."""
    from terminals.worker import Worker

    now = utcnow()
    old = [
        record_event(
            db,
            "employee.viewed",
            actor=ACTOR,
            object_type="employee",
            object_id=site.sentinel.id,
            subject_employee_id=site.sentinel.id,
            at=now - timedelta(days=days),
        )
        for days in (186, 250, 362)  # past six months, within the declared year
    ]
    db.commit()
    before = dict(db.execute(select(AuditEvent.seq, AuditEvent.hash)).all())
    assert before
    run = erasure.start_erasure(db, site.request.id, actor=ACTOR)
    db.commit()
    assert finish(sessions, db, site, kek, tmp_path).state == "completed"
    worker = Worker(sessions, client, name="w", threads=1, data_dir=tmp_path, reconcile_every=None)
    try:
        worker._purge_expired(tmp_path)  # what the worker runs daily
    finally:
        worker.shutdown()
    db.expire_all()
    assert db.get(ErasureRun, run.id).state == "completed"  # type: ignore[union-attr]
    after = dict(db.execute(select(AuditEvent.seq, AuditEvent.hash)).all())
    assert {seq: after.get(seq) for seq in before} == before  # none gone, none changed
    kept = db.scalars(
        select(AuditEvent).where(AuditEvent.seq.in_([e.seq for e in old])).order_by(AuditEvent.seq)
    ).all()
    assert [e.subject_employee_id for e in kept] == [site.sentinel.id] * 3
    assert min(e.at for e in kept) < now - timedelta(days=361)
    assert verify_chain(db).ok


def test_an_erasure_needs_a_verified_erasure_request(db: Session, site: Site) -> None:
    other = register.receive_request(db, employee_id=site.control.id, kind="erasure", actor=ACTOR)
    with pytest.raises(ConflictError, match="identity is verified"):
        erasure.start_erasure(db, other.id, actor=ACTOR)
    access = register.receive_request(db, employee_id=site.control.id, kind="access", actor=ACTOR)
    with pytest.raises(ValidationError, match="not an erasure"):
        erasure.start_erasure(db, access.id, actor=ACTOR)
    assert db.scalars(select(ErasureRun)).all() == []


def test_every_not_null_anonymized_column_has_a_replacement() -> None:
    from server.db import Base
    from server.inventory import Erasure, declaration

    missing = [
        f"{t.name}.{c.name}"
        for t in Base.metadata.sorted_tables
        for c in t.columns
        if (d := declaration(c)) is not None
        and d.erasure is Erasure.ANONYMIZE
        and d.subject != "account"
        and not c.nullable
        and f"{t.name}.{c.name}" not in erasure.ANONYMIZED
    ]
    assert missing == []


def test_every_kept_table_has_a_retention_clock() -> None:
    kept = [p.table for p in erasure.plan_tables() if p.kept]
    assert kept
    assert [t for t in kept if t not in erasure.RETENTION_CLOCKS] == []


# --------------------------------------------------------------------------- the bytes
@pytest.fixture
def file_db(fresh_database: Callable[[], str]) -> Iterator[tuple[str, sessionmaker[Session]]]:
    """A database of its own, committed for real, whose files the test can read."""
    url = fresh_database()
    migrate.upgrade(url)
    engine = make_engine(url)
    yield url, make_sessionmaker(engine)
    engine.dispose()


def _files(url: str, sessions: sessionmaker[Session]) -> bytes:
    """Every byte of the database's files: SQLite's file, WAL and journal; PostgreSQL's
    table, index and TOAST files (after a checkpoint, so nothing waits in memory)."""
    if not is_postgres(url):
        path = Path(url.removeprefix("sqlite:///"))
        return b"".join(
            p.read_bytes()
            for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal"))
            if p.exists()
        )
    engine = sessions.kw["bind"]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CHECKPOINT")
        base = Path(conn.exec_driver_sql("SHOW data_directory").scalar())
        relations = conn.exec_driver_sql(
            "SELECT pg_relation_filepath(oid) FROM pg_class "
            "WHERE relnamespace IN ('public'::regnamespace, 'pg_toast'::regnamespace) "
            "AND relkind IN ('r', 'i', 't') AND pg_relation_filepath(oid) IS NOT NULL"
        ).scalars()
        files = [base / r for r in relations]
    try:
        return b"".join(f.read_bytes() for path in files for f in path.parent.glob(f"{path.name}*"))
    except PermissionError:
        pytest.skip("the PostgreSQL data directory is not readable by the test user")


def test_erased_values_are_in_no_byte_of_the_database_files_and_a_restore_replays(
    file_db: tuple[str, sessionmaker[Session]],
    simulator: Any,
    kek: KeyEncryptionKey,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url, sessions = file_db
    with sessions() as db:
        site = build_site(db, [simulator.start("tft", empty=True) for _ in range(3)], kek)
        data = tmp_path / "data"
        create_download(
            db,
            data_dir=data,
            employee_id=site.sentinel.id,
            kind="access",
            content=build_access_package(db, site.sentinel.id, actor=ACTOR).to_zip(),
            content_type="application/zip",
            suffix="zip",
            actor=ACTOR,
        )
        db.commit()
    assert all(c in _files(url, sessions) for c in DELETED_OR_ANONYMIZED[:6])
    backup = tmp_path / "before.db"
    if not is_postgres(url):
        path = Path(url.removeprefix("sqlite:///"))
        with sqlite3.connect(path) as src, sqlite3.connect(backup) as dst:
            src.backup(dst)

    with sessions() as db:
        run = erasure.start_erasure(db, site.request.id, actor=ACTOR)
        db.commit()
        outcome = finish(sessions, db, site, kek, data)
    assert outcome.state == "completed"
    assert outcome.scrubbed
    assert list((data / "exports").iterdir()) == []
    raw = _files(url, sessions)
    assert [c for c in DELETED_OR_ANONYMIZED if c in raw] == []
    assert all(c in raw for c in KEPT_RESTRICTED)  # legal retention: kept, restricted
    assert b"Carla" in raw  # the control is kept
    assert CONTROL_TEMPLATE[8:23] not in raw  # and its template sealed

    with sessions() as db:
        purged = erasure.purge_expired(db, now=utcnow() + timedelta(days=4 * 366), actor=ACTOR)
        db.commit()
    assert erasure.scrub_storage(sessions, purged)
    raw = _files(url, sessions)
    assert [c for c in DELETED_OR_ANONYMIZED + KEPT_RESTRICTED if c in raw] == []
    assert not any(c.decode() in caplog.text for c in DELETED_OR_ANONYMIZED + KEPT_RESTRICTED)

    if is_postgres(url):
        return  # restoring a file backup is shown on SQLite; replay itself is the same
    # A backup from before the erasure is restored: the tombstones erase the sentinel again.
    sessions.kw["bind"].dispose()
    with sqlite3.connect(backup) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    assert CANARY["email"].encode() in _files(url, sessions)
    outcomes = erasure.replay_tombstones(sessions, data_dir=data, actor=ACTOR)
    assert [o.state for o in outcomes] == ["waiting_for_terminals"]
    with sessions() as db:
        settle(db, list(db.scalars(select(Terminal))), kek)
    assert erasure.resume_waiting(sessions, data_dir=data, actor=ACTOR)[0].state == "completed"
    with sessions() as db:
        assert db.get(Employee, site.sentinel.id).erased_at is not None  # type: ignore[union-attr]
        assert db.scalars(select(PunchCorrection)).all() != []  # kept again, restricted
    raw = _files(url, sessions)
    assert [c for c in DELETED_OR_ANONYMIZED if c in raw] == []
    with sessions() as db:
        replayed = db.get(ErasureRun, outcomes[0].run_id)
        assert replayed is not None
        assert replayed.receipt["replay_of"] == run.id
        assert replayed.request_id is None  # the request is newer than the backup


def test_the_worker_finishes_an_erasure_once_the_terminals_confirm(
    file_db: tuple[str, sessionmaker[Session]],
    simulator: Any,
    kek: KeyEncryptionKey,
    tmp_path: Path,
) -> None:
    from terminals.worker import Worker

    _url, sessions = file_db
    with sessions() as db:
        site = build_site(db, [simulator.start("tft", empty=True) for _ in range(3)], kek)
        run_id = erasure.start_erasure(db, site.request.id, actor=ACTOR).id
        db.commit()
    worker = Worker(sessions, client, name="w", threads=3, data_dir=tmp_path, reconcile_every=None)
    worker.run_once(timeout=60)
    worker.shutdown()
    with sessions() as db:
        done = db.get(ErasureRun, run_id)
        assert done is not None
        assert done.state == "completed"
        assert db.get(SubjectRequest, site.request.id).status == "completed"  # type: ignore[union-attr]
    assert all(sim.device.user_by_id(CODE) is None for sim in site.sims)


def test_two_runners_of_one_erasure_never_run_a_step_twice(
    file_db: tuple[str, sessionmaker[Session]],
    simulator: Any,
    kek: KeyEncryptionKey,
    tmp_path: Path,
) -> None:
    """The worker and a page may resume the same erasure at the same moment."""
    import threading
    import time

    _url, sessions = file_db
    with sessions() as db:
        site = build_site(db, [simulator.start("tft", empty=True) for _ in range(3)], kek)
        run = erasure.start_erasure(db, site.request.id, actor=ACTOR).id
        db.commit()
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def slow(step: str) -> None:
        time.sleep(0.05)  # inside the step's transaction: the other runner comes meanwhile

    def runner() -> None:
        try:
            outcome = erasure.run_erasure(
                sessions, run, data_dir=tmp_path, actor=ACTOR, after_step=slow
            )
            outcomes.append(outcome.state)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert outcomes == ["waiting_for_terminals"] * 2
    with sessions() as db:
        names = [
            d["step"]
            for d in db.scalars(
                select(AuditEvent.details).where(
                    AuditEvent.action == "rights.erasure_step", AuditEvent.object_id == str(run)
                )
            )
        ]
        deletes = db.scalar(
            select(func.count())
            .select_from(TerminalCommand)
            .where(TerminalCommand.reference == erasure.reference(run))
        )
    assert names
    assert sorted(names) == sorted(set(names))  # each step once
    assert deletes == 3  # one delete per terminal, not two
