# SPDX-License-Identifier: GPL-2.0-or-later
"""Access package and erasure of an employee with five years of punches (issue #7).

Builds the package (JSON, CSV, HTML, ZIP) for one employee among 200 with ~5,000 punches
each, then erases that employee (two templates, a consent, 10 terminals), and prints both
times next to a baseline measured in the same run: a plain
``SELECT * FROM punches WHERE employee_id = ?`` of the same rows, i.e. the least any work on
them has to do. The erasure's time is the server's work only: its terminal deletes are
marked confirmed in the database instead of being run against terminals.
Usage: python bench/bench_rights.py [--punches N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from biometrics.keys import KeyEncryptionKey
from server import migrate
from server.attendance.models import Punch
from server.audit.services import Actor
from server.db import insert_ignoring_conflicts, make_engine, make_sessionmaker, utcnow
from server.devices.models import Terminal, TerminalCommand
from server.employees.models import Employee
from server.enrolment import services as vault
from server.organization.models import OrganizationSettings
from server.privacy import services as privacy
from server.rights import erasure
from server.rights import services as register
from server.rights.access import build_access_package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--punches", type=int, default=5_000)
    parser.add_argument("--employees", type=int, default=200)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        migrate.upgrade(url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        start = datetime(2021, 11, 1, 8, tzinfo=UTC)
        with sessions() as db:
            ids = []
            for i in range(args.employees):
                e = Employee(employee_code=f"B{i:05d}", given_name="Bench", family_name=f"E{i}")
                db.add(e)
                db.flush()
                ids.append(e.id)
            rows = []
            for emp_index, emp_id in enumerate(ids):
                for k in range(args.punches):
                    t = start + timedelta(hours=9 * k, seconds=emp_index)
                    rows.append(
                        {
                            "terminal_serial": "BENCH1",
                            "pin": f"B{emp_index:05d}",
                            "employee_id": emp_id,
                            "device_time": t.replace(tzinfo=None),
                            "occurred_at": t,
                            "timezone": "UTC",
                            "verify_type": 1,
                            "punch_state": k % 2,
                            "work_code": 0,
                            "source": "pull",
                            "status": "ok",
                            "quarantine_reason": None,
                            "received_at": t,
                            "sync_run_id": None,
                        }
                    )
                if len(rows) >= 50_000:
                    insert_ignoring_conflicts(
                        db,
                        Punch.__table__,
                        rows,
                        conflict_columns=("terminal_serial", "pin", "device_time"),
                    )
                    rows = []
            insert_ignoring_conflicts(
                db,
                Punch.__table__,
                rows,
                conflict_columns=("terminal_serial", "pin", "device_time"),
            )
            db.commit()
        target = ids[len(ids) // 2]
        with sessions() as db:
            t0 = time.perf_counter()
            baseline = db.execute(select(Punch).where(Punch.employee_id == target)).all()
            base = time.perf_counter() - t0
        with sessions() as db:
            t0 = time.perf_counter()
            package = build_access_package(db, target, actor=Actor.system("bench"))
            archive = package.to_zip()
            ours = time.perf_counter() - t0
            db.rollback()
        erase_s, steps = _erase(sessions, target, Path(tmp))
        n = len(package.data["punches"])
        assert n == len(baseline) == args.punches
        print(
            f"Access package: {n:,} punches of one employee among {args.employees} "
            f"({args.employees * args.punches:,} punches in all), {engine.dialect.name}"
        )
        print(f"  plain SELECT of the punches (baseline)  {base * 1000:8.1f} ms   1.00x")
        print(
            f"  package built, JSON+CSV+HTML+ZIP        {ours * 1000:8.1f} ms   "
            f"{ours / base:.1f}x  ({len(archive) / 1024:.0f} KiB ZIP; goal < 2 s)"
        )
        print(
            f"  erasure, 10 terminals, server work      {erase_s * 1000:8.1f} ms   "
            f"{erase_s / base:.1f}x  ({steps} steps; goal < 2 s)"
        )
        engine.dispose()


def _erase(sessions: sessionmaker[Session], employee_id: int, tmp: Path) -> tuple[float, int]:
    actor = Actor.system("bench")
    kek = KeyEncryptionKey.generate()
    with sessions() as db:
        org = db.get(OrganizationSettings, 1) or OrganizationSettings(
            id=1, name="Bench", default_timezone="UTC"
        )
        db.add(org)
        db.flush()
        draft = privacy.create_notice_draft(
            db,
            title="Biometrics",
            body="Bench.",
            retention_schedule="Until withdrawal",
            actor=actor,
        )
        notice = privacy.publish_notice(
            db, draft.id, effective_at=utcnow() - timedelta(seconds=1), actor=actor
        )
        privacy.set_biometrics_enabled(db, True, actor=actor)
        privacy.record_consent(
            db,
            employee_id=employee_id,
            notice_version=notice.version,
            method="signed_paper",
            evidence_ref="bench",
            given_at=utcnow() - timedelta(seconds=1),
            actor=actor,
        )
        for finger in (0, 1):
            vault.store_template(
                db,
                employee_id=employee_id,
                kind="finger",
                index=finger,
                format_version=10,
                template=bytes(1200),
                source_terminal_serial=None,
                kek=kek,
                actor=actor,
            )
        for i in range(10):
            db.add(
                Terminal(
                    serial_number=f"BENCHT{i:02d}",
                    name=f"T{i}",
                    host="127.0.0.1",
                    port=4370,
                    transport="tcp",
                    timezone="UTC",
                    encoding="utf-8",
                    capabilities={},
                )
            )
        req = register.receive_request(db, employee_id=employee_id, kind="erasure", actor=actor)
        register.verify_identity(db, req.id, method="in_person", actor=actor)
        register.start_work(db, req.id, actor=actor)
        db.commit()
        request_id = req.id
    t0 = time.perf_counter()
    with sessions() as db:
        run_id = erasure.start_erasure(db, request_id, actor=actor).id
        db.commit()
    first = erasure.run_erasure(sessions, run_id, data_dir=tmp, actor=actor)
    server = time.perf_counter() - t0
    assert first.state == "waiting_for_terminals", first
    with sessions() as db:  # the terminals' confirmations, without the round trips
        db.execute(
            update(TerminalCommand)
            .where(TerminalCommand.reference == erasure.reference(run_id))
            .values(state="done", completed_at=utcnow(), outcome={"user": "deleted"})
        )
        db.commit()
    t0 = time.perf_counter()
    done = erasure.run_erasure(sessions, run_id, data_dir=tmp, actor=actor)
    server += time.perf_counter() - t0
    assert done.state == "completed", done
    return server, done.steps_done


if __name__ == "__main__":
    main()
