# SPDX-License-Identifier: GPL-2.0-or-later
"""Sync engine benchmarks (issue #4), against simulated terminals on 127.0.0.1.

1. Full sync of a terminal holding 100,000 records and 3,000 users, next to two baselines
   measured in the same run: pyzk's own ``get_attendance()`` on the same terminal, and the
   usual peer approach (read with pyzk, then look up and insert record by record through
   the ORM).
2. An unchanged terminal: time per sync.
3. A fleet of 200 terminals with 1,000 new records each, one worker: wall time of a cycle
   and database rows per second.

The simulator runs in a child process, so its CPU does not share the GIL with the worker.
Usage: python bench/bench_sync.py [--records N] [--users N] [--fleet N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from zk import ZK

from server import migrate
from server.attendance.models import Punch
from server.db import make_engine, make_sessionmaker
from server.devices.models import Terminal
from server.settings import system_timezone
from terminals.base import Endpoint
from terminals.sync import sync_terminal
from terminals.worker import Worker
from terminals.zk.client import ZkClient


def serve(specs: list[dict[str, Any]], out: Any, stop: Any) -> None:
    from terminals.simulator.testing import SimulatorFleet

    with SimulatorFleet() as fleet:
        terms = [fleet.start(**spec) for spec in specs]
        out.put([(t.serial, t.port) for t in terms])
        stop.wait()


class Simulators:
    def __init__(self, specs: list[dict[str, Any]]) -> None:
        ctx = mp.get_context("spawn")
        self.out, self.stop = ctx.Queue(), ctx.Event()
        self.proc = ctx.Process(target=serve, args=(specs, self.out, self.stop), daemon=True)

    def __enter__(self) -> list[tuple[str, int]]:
        self.proc.start()
        return list(self.out.get(timeout=600))

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.proc.join(timeout=30)


def fresh(url: str | None, tmp: Path, name: str) -> str:
    if url:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()
        db_url = url
    else:
        db_url = f"sqlite:///{tmp / name}"
    migrate.upgrade(db_url)
    return db_url


def add_terminal(sessions: Any, serial: str, port: int) -> int:
    with sessions() as db:
        t = Terminal(
            serial_number=serial,
            name=serial,
            host="127.0.0.1",
            port=port,
            transport="tcp",
            timezone=system_timezone(),
            encoding="utf-8",
            capabilities={},
        )
        db.add(t)
        db.commit()
        return t.id


def pyzk_get_attendance(port: int) -> tuple[float, int]:
    zk = ZK("127.0.0.1", port=port, timeout=60, ommit_ping=True)
    conn = zk.connect()
    t0 = time.perf_counter()
    records = conn.get_attendance()
    elapsed = time.perf_counter() - t0
    conn.disconnect()
    return elapsed, len(records)


def naive_peer_sync(sessions: Any, serial: str, port: int) -> tuple[float, int]:
    """What pyzk-based tools do: read everything, then check and insert one record at a time."""
    t0 = time.perf_counter()
    zk = ZK("127.0.0.1", port=port, timeout=60, ommit_ping=True)
    conn = zk.connect()
    records = conn.get_attendance()
    conn.disconnect()
    inserted = 0
    with sessions() as db:
        for r in records:
            exists = db.scalar(
                select(Punch.id).where(
                    Punch.terminal_serial == serial,
                    Punch.pin == str(r.user_id),
                    Punch.device_time == r.timestamp,
                )
            )
            if exists is None:
                db.add(
                    Punch(
                        terminal_serial=serial,
                        pin=str(r.user_id),
                        employee_id=None,
                        device_time=r.timestamp,
                        occurred_at=r.timestamp.replace(tzinfo=UTC),
                        timezone="UTC",
                        verify_type=r.status,
                        punch_state=r.punch,
                        work_code=0,
                        source="pull",
                        status="ok",
                        received_at=r.timestamp.replace(tzinfo=UTC),
                    )
                )
                db.flush()
                inserted += 1
        db.commit()
    return time.perf_counter() - t0, inserted


def bench_single(args: argparse.Namespace, tmp: Path) -> None:
    spec = {"model": "tft", "users": args.users, "records": args.records}
    with Simulators([spec, spec]) as ((serial, port), (serial2, port2)):
        url = fresh(args.database_url, tmp, "single.db")
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        tid = add_terminal(sessions, serial, port)
        base, n = pyzk_get_attendance(port)
        with sessions() as db:
            t = db.get(Terminal, tid)
            t0 = time.perf_counter()
            run = sync_terminal(db, t, ZkClient(Endpoint("127.0.0.1", port, timeout_s=60)))
            ours = time.perf_counter() - t0
            assert run.punches_new == n == args.records, (run.punches_new, n)
            unchanged = []
            for _ in range(20):
                t0 = time.perf_counter()
                again = sync_terminal(db, t, ZkClient(Endpoint("127.0.0.1", port)))
                unchanged.append(time.perf_counter() - t0)
                assert again.status == "unchanged"
        naive_url = fresh(args.database_url, tmp, "naive.db") if not args.database_url else url
        naive_engine = make_engine(naive_url) if naive_url != url else engine
        naive, inserted = naive_peer_sync(
            make_sessionmaker(naive_engine), serial2 + "-naive", port2
        )
        assert inserted == args.records
        print(
            f"\nFull sync: {args.records:,} records, {args.users:,} users (TFT, 40-byte records),"
            f" {engine.dialect.name}"
        )
        print(f"  pyzk get_attendance() alone (baseline)   {base:8.2f} s   1.00x")
        print(
            f"  Rollcall sync_terminal (read + ingest)   {ours:8.2f} s   {ours / base:.2f}x "
            "of baseline"
        )
        print(
            f"  peer approach (pyzk + ORM row by row)    {naive:8.2f} s   {naive / base:.2f}x "
            f"of baseline; Rollcall is {naive / ours:.1f}x faster"
        )
        print(f"  ingest rate                              {n / ours:10,.0f} records/s")
        med = statistics.median(unchanged) * 1000
        p95 = sorted(unchanged)[int(0.95 * len(unchanged)) - 1] * 1000
        print(f"Unchanged terminal: median {med:.1f} ms, p95 {p95:.1f} ms per sync (20 runs)")
        engine.dispose()
        naive_engine.dispose()


def bench_fleet(args: argparse.Namespace, tmp: Path) -> None:
    specs = [
        {"model": "tft", "users": 20, "records": args.fleet_records, "seed": i + 1}
        for i in range(args.fleet)
    ]
    with Simulators(specs) as served:
        url = fresh(args.database_url, tmp, "fleet.db")
        engine = make_engine(url, pool_size=args.threads + 2)
        sessions = make_sessionmaker(engine)
        for serial, port in served:
            add_terminal(sessions, serial, port)

        def connect(t: Terminal) -> ZkClient:
            return ZkClient(Endpoint("127.0.0.1", t.port or 0, timeout_s=30))

        worker = Worker(sessions, connect, name="bench", threads=args.threads)
        t0 = time.perf_counter()
        worker.run_once(timeout=1200)
        wall = time.perf_counter() - t0
        worker.shutdown()
        with sessions() as db:
            rows = db.scalar(select(func.count()).select_from(Punch)) or 0
        assert rows == args.fleet * args.fleet_records, rows
        print(
            f"\nFleet: {args.fleet} terminals x {args.fleet_records:,} records, one worker with "
            f"{args.threads} threads, {engine.dialect.name}"
        )
        print(
            f"  full cycle {wall:.1f} s (goal < 60 s), {rows / wall:,.0f} rows/s, "
            f"{wall / args.fleet * 1000:.0f} ms per terminal on average"
        )
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=3_000)
    parser.add_argument("--fleet", type=int, default=200)
    parser.add_argument("--fleet-records", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL URL (its public schema is dropped!); default SQLite",
    )
    parser.add_argument("--skip", choices=["single", "fleet"], action="append", default=[])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if "single" not in args.skip:
            bench_single(args, Path(tmp))
        if "fleet" not in args.skip:
            bench_fleet(args, Path(tmp))


if __name__ == "__main__":
    main()
