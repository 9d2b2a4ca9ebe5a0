# SPDX-License-Identifier: GPL-2.0-or-later
"""Access package for an employee with five years of punches (issue #7).

Builds the package (JSON, CSV, HTML, ZIP) for one employee among 200 with ~5,000 punches
each, and prints the time next to a baseline measured in the same run: a plain
``SELECT * FROM punches WHERE employee_id = ?`` of the same rows, i.e. the least any export
has to do. Usage: python bench/bench_rights.py [--punches N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from server import migrate
from server.attendance.models import Punch
from server.audit.services import Actor
from server.db import insert_ignoring_conflicts, make_engine, make_sessionmaker
from server.employees.models import Employee
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
        engine.dispose()


if __name__ == "__main__":
    main()
