# SPDX-License-Identifier: GPL-2.0-or-later
"""Distribution benchmark (issue #5), against simulated terminals on 127.0.0.1.

1,000 employees with two fingerprint templates each (about 1.2 KB, as ZKFinger 10 writes
them), all with consent, assigned to one area whose 10 terminals start empty. Measured:

1. Rollcall: the worker (10 threads) drains the outboxes: every user and template written
   to every terminal, each command planned, executed and recorded (audit included).
2. Baseline in the same run (best of three): pyzk's own ``save_user_template()`` writing
   the same 1,000 users and 2,000 templates to one terminal from plaintext already in
   memory, i.e. the terminal's own write time without any database, vault or audit; once
   as released and once with the adapter's equivalent checksum. A peer script loops over
   its terminals, so its time for 10 terminals is ten times that.
3. A reconciliation of all 10 terminals once everything is there (nothing to write).

The simulators run in a child process so their CPU does not share the GIL with the worker.
Usage: python bench/bench_distribution.py [--employees N] [--terminals N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from zk import ZK
from zk.finger import Finger
from zk.user import User

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_sync import Simulators, add_terminal, fresh
from biometrics.keys import KeyEncryptionKey
from server.audit.services import Actor
from server.db import make_engine, make_sessionmaker, utcnow
from server.devices import distribution
from server.devices.models import (
    CommandKind,
    CommandState,
    Terminal,
    TerminalCommand,
)
from server.employees.models import Employee, employee_areas
from server.enrolment.services import store_template
from server.organization.models import Area, OrganizationSettings
from server.privacy import services as privacy
from terminals.base import Endpoint
from terminals.simulator.device import fake_template
from terminals.worker import Worker
from terminals.zk.client import ZkClient

ACTOR = Actor.system("bench")
TEMPLATE_BYTES = 1200


def templates_for(n: int) -> list[tuple[bytes, bytes]]:
    rng = random.Random(5)
    return [
        (fake_template(rng, TEMPLATE_BYTES), fake_template(rng, TEMPLATE_BYTES)) for _ in range(n)
    ]


def seed(sessions: Any, kek: KeyEncryptionKey, fingers: list[tuple[bytes, bytes]]) -> int:
    with sessions() as db:
        db.add(OrganizationSettings(id=1, name="Bench", default_timezone="UTC", minor_age=14))
        draft = privacy.create_notice_draft(
            db,
            title="Biometrics",
            body="Templates.",
            retention_schedule="Until withdrawal",
            actor=ACTOR,
        )
        notice = privacy.publish_notice(
            db, draft.id, effective_at=utcnow() - timedelta(seconds=5), actor=ACTOR
        )
        privacy.set_biometrics_enabled(db, True, actor=ACTOR)
        place = Area(code="PLANT", name="Plant")
        db.add(place)
        db.flush()
        for i, pair in enumerate(fingers):
            e = Employee(
                employee_code=str(10_000 + i),
                given_name=f"Worker{i}",
                family_name="Bench",
                date_of_birth=utcnow().date().replace(year=1990),
                card_number=str(500_000 + i),
            )
            db.add(e)
            db.flush()
            privacy.record_consent(
                db,
                employee_id=e.id,
                notice_version=notice.version,
                method="signed_paper",
                evidence_ref=f"scan-{i}",
                actor=ACTOR,
                given_at=utcnow() - timedelta(seconds=1),
            )
            for index, data in enumerate(pair):
                store_template(
                    db,
                    employee_id=e.id,
                    kind="finger",
                    index=index,
                    format_version=10,
                    template=data,
                    source_terminal_serial=None,
                    kek=kek,
                    actor=ACTOR,
                )
        db.commit()
        return place.id


def pyzk_write(port: int, fingers: list[tuple[bytes, bytes]], *, released: bool) -> float:
    """pyzk writing everything to one terminal; ``released``: with pyzk's own checksum
    (the adapter swaps in an equivalent faster one on import)."""
    from terminals.zk.client import PYZK_CHECKSUM, _checksum_as_pyzk

    ZK._ZK__create_checksum = PYZK_CHECKSUM if released else _checksum_as_pyzk
    try:
        return _pyzk_write(port, fingers)
    finally:
        ZK._ZK__create_checksum = _checksum_as_pyzk


def _pyzk_write(port: int, fingers: list[tuple[bytes, bytes]]) -> float:
    zk = ZK("127.0.0.1", port=port, timeout=60, ommit_ping=True)
    conn = zk.connect()
    t0 = time.perf_counter()
    for i, pair in enumerate(fingers):
        uid = i + 1
        user = User(uid, f"Worker{i} Bench", 0, "", "", str(10_000 + i), 500_000 + i)
        conn.save_user_template(user, [Finger(uid, f, 1, data) for f, data in enumerate(pair)])
    elapsed = time.perf_counter() - t0
    conn.disconnect()
    return elapsed


def count_on(port: int) -> tuple[int, int]:
    with ZkClient(Endpoint(host="127.0.0.1", port=port, timeout_s=60)) as c:
        sizes = c.sizes()
        return sizes.users, sizes.fingers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=1000)
    parser.add_argument("--terminals", type=int, default=10)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default SQLite)")
    args = parser.parse_args()
    n, k = args.employees, args.terminals
    fingers = templates_for(n)
    kek = KeyEncryptionKey.generate()
    specs = [{"model": "tft", "empty": True} for _ in range(k + 1)]
    with tempfile.TemporaryDirectory() as tmp, Simulators(specs) as served:
        url = fresh(args.database_url, Path(tmp), "dist.db")
        engine = make_engine(url, pool_size=k + 4)
        sessions = make_sessionmaker(engine)
        t0 = time.perf_counter()
        area_id = seed(sessions, kek, fingers)
        print(f"seeded {n} employees, {2 * n} templates sealed: {time.perf_counter() - t0:.1f} s")

        baseline_port = served[-1][1]
        # Best of three: the baseline is short and the machine shares its cores.
        pyzk_s = min(pyzk_write(baseline_port, fingers, released=True) for _ in range(3))
        print(
            f"pyzk 0.9 save_user_template, 1 terminal:  {pyzk_s:7.2f} s "
            f"({n / pyzk_s:,.0f} users/s, {2 * n / pyzk_s:,.0f} templates/s)"
        )
        fast_s = min(pyzk_write(baseline_port, fingers, released=False) for _ in range(3))
        print(
            f"  same, with the adapter's checksum:       {fast_s:7.2f} s "
            f"({pyzk_s / fast_s:.1f}x pyzk's own)"
        )

        ids = [add_terminal(sessions, serial, port) for serial, port in served[:k]]
        with sessions() as db:
            employees = db.scalars(select(Employee.id)).all()
            db.execute(
                employee_areas.insert(), [{"employee_id": e, "area_id": area_id} for e in employees]
            )
            # Placing a terminal queues its reconciliation, which queues a put per employee.
            for tid in ids:
                distribution.set_terminal_area(db, tid, area_id, actor=ACTOR)
            db.commit()

        def connect(terminal: Terminal) -> ZkClient:
            return ZkClient(
                Endpoint(host=terminal.host or "", port=terminal.port or 0, timeout_s=60)
            )

        worker = Worker(sessions, connect, threads=k, kek=kek, reconcile_every=None)
        t0 = time.perf_counter()
        worker.run_once(timeout=3600)
        rollcall_s = time.perf_counter() - t0
        worker.shutdown()
        with sessions() as db:
            states = dict(
                db.execute(
                    select(TerminalCommand.state, func.count()).group_by(TerminalCommand.state)
                ).all()
            )
        on_terminals = [count_on(port) for _serial, port in served[:k]]
        assert all(c == (n, 2 * n) for c in on_terminals), on_terminals
        assert set(states) == {CommandState.DONE.value}, states
        print(
            f"Rollcall worker, {k} terminals:          {rollcall_s:7.2f} s "
            f"({k * n / rollcall_s:,.0f} users/s, {2 * k * n / rollcall_s:,.0f} templates/s)"
        )
        print(
            f"  vs pyzk looping over {k} terminals ({k * pyzk_s:.1f} s): "
            f"{k * pyzk_s / rollcall_s:.1f}x faster"
        )
        print(
            f"  {k} terminals took {rollcall_s / pyzk_s:.2f}x what pyzk takes for one "
            f"({rollcall_s / pyzk_s / k:.2f}x per terminal)"
        )

        def reconcile_puts() -> int:
            with sessions() as db:
                return int(
                    db.scalar(
                        select(func.count())
                        .select_from(TerminalCommand)
                        .where(TerminalCommand.cause == "reconcile")
                    )
                    or 0
                )

        before = reconcile_puts()
        with sessions() as db:
            for t in db.scalars(select(Terminal)):
                distribution.queue_command(db, t, CommandKind.RECONCILE, cause="bench")
            db.commit()
        worker = Worker(sessions, connect, threads=k, kek=kek, reconcile_every=None)
        t0 = time.perf_counter()
        worker.run_once(timeout=3600)
        again_s = time.perf_counter() - t0
        worker.shutdown()
        extra = reconcile_puts() - before
        print(
            f"reconcile {k} terminals, all in step:     {again_s:7.2f} s "
            f"({extra} corrections queued)"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
