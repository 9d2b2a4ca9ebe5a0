# SPDX-License-Identifier: GPL-2.0-or-later
"""Server time of the busiest pages with millions of punches (issue #6).

Run: ``.venv/bin/python bench/bench_web.py [--punches 5000000] [--database-url URL]``

Loads N punches (about three years of 5,000 employees on 20 terminals, newest today) into
a fresh database, SQLite by default or the PostgreSQL given by URL, then times the pages
in process with Flask's test client: the punch browser's first page, its next page, a
page filtered to one employee and to one department, the employee search and the
dashboard, and the browser and dashboard of an HR manager limited to one department.
Each figure is the p50 and p95 of R runs (after one warm-up). The baseline is
a bare SELECT of the same 51 rows on ``ix_punches_occurred`` through the same engine, in
the same process; the ratio says what the page adds to reading its rows (filters,
names, corrections, rendering). The goal is under 150 ms for each page.

``--reuse`` times a database loaded by an earlier run again (give its URL). Loading
writes rows through the database driver directly (``executemany`` on SQLite,
``COPY`` on PostgreSQL) with the punch indexes dropped and rebuilt afterwards.
"""

from __future__ import annotations

import argparse
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Run as a script from a checkout, the repository root is not on the path by itself.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy
from sqlalchemy import Engine, Index, select, text

from server import migrate
from server.attendance.models import Punch
from server.audit.services import Actor
from server.auth.models import Account, account_departments
from server.auth.services import create_account
from server.db import make_engine, make_sessionmaker
from server.devices.models import Terminal
from server.employees.models import Employee
from server.organization.models import Department, OrganizationSettings
from server.settings import Settings

ZONE = "Europe/Berlin"
EMPLOYEES = 5_000
DEPARTMENTS = 25
TERMINALS = 20
PASSWORD = "bench password 123"  # noqa: S105 -- a throwaway account in a scratch database
COLUMNS = (
    "terminal_serial",
    "pin",
    "employee_id",
    "device_time",
    "occurred_at",
    "timezone",
    "verify_type",
    "punch_state",
    "work_code",
    "source",
    "status",
    "quarantine_reason",
    "received_at",
)
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_OLDER = re.compile(r'id="older-page" href="([^"]+)"')


# --------------------------------------------------------------------------- loading
def _seed_people(engine: Engine) -> tuple[list[tuple[int, str]], list[str], list[int]]:
    sessions = make_sessionmaker(engine)
    with sessions() as db:
        db.add(OrganizationSettings(id=1, name="Bench", default_timezone=ZONE))
        departments = [
            Department(code=f"D{i:02d}", name=f"Department {i}") for i in range(DEPARTMENTS)
        ]
        db.add_all(departments)
        db.flush()
        rng = random.Random(6)
        first = [
            "Ana",
            "Bo",
            "Chen",
            "Dara",
            "Eli",
            "Femi",
            "Gus",
            "Hana",
            "Ivo",
            "Jun",
            "Li",
            "Mei",
        ]
        last = ["Lima", "Wang", "Zhang", "Silva", "Okafor", "Novak", "Garcia", "Tanaka", "Kim"]
        people = [
            Employee(
                employee_code=f"{10000 + i}",
                given_name=rng.choice(first),
                family_name=f"{rng.choice(last)}{i}",
                department_id=departments[i % DEPARTMENTS].id,
                restricted_at=datetime.now(UTC) if i % 1000 == 999 else None,
            )
            for i in range(EMPLOYEES)
        ]
        db.add_all(people)
        terminals = [
            Terminal(
                serial_number=f"BENCH{i:03d}",
                name=f"Gate {i}",
                host="127.0.0.1",
                port=4370 + i,
                transport="tcp",
                timezone=ZONE,
                encoding="utf-8",
                capabilities={},
                last_seen_at=datetime.now(UTC),
                last_success_at=datetime.now(UTC),
                clock_offset_s=float(i),
            )
            for i in range(TERMINALS)
        ]
        db.add_all(terminals)
        actor = Actor.system("bench")
        admin = create_account(
            db, username="bench-admin", password=PASSWORD, role="admin", actor=actor
        )
        admin.must_change_password = False
        db.commit()
        return (
            [(e.id, e.employee_code) for e in people],
            [t.serial_number for t in terminals],
            [d.id for d in departments],
        )


def _rows(n: int, people: list[tuple[int, str]], serials: list[str]) -> Iterator[tuple[Any, ...]]:
    """N punches, oldest first, ending now: each person on their own terminal."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    span = timedelta(days=3 * 365).total_seconds()
    step = span / n
    start = now - timedelta(seconds=span)
    rng = random.Random(2026)
    offset = zone.utcoffset(now.replace(tzinfo=None)) or timedelta(hours=1)
    for i in range(n):
        employee_id, code = people[rng.randrange(len(people))]
        at = start + timedelta(seconds=i * step)
        local = at.replace(tzinfo=None) + offset  # good enough for the device's own column
        unassigned = i % 5000 == 17
        quarantined = i % 20000 == 5
        yield (
            serials[employee_id % len(serials)],
            "99999" if unassigned else code,
            None if unassigned else employee_id,
            local,
            at,
            ZONE,
            1,
            i % 2,
            0,
            "pull",
            "quarantined" if quarantined else "ok",
            "terminal clock reset (year 2000 default)" if quarantined else None,
            at,
        )


def _punch_indexes() -> list[Index]:
    return [i for i in Punch.__table__.indexes if i.name != "uq_punches_natural"]  # type: ignore[attr-defined]


def load(engine: Engine, n: int) -> float:
    people, serials, _departments = _seed_people(engine)
    started = time.perf_counter()
    indexes = _punch_indexes()
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            fmt = "%Y-%m-%d %H:%M:%S.%f"
            marks = ", ".join("?" * len(COLUMNS))
            sql = f"INSERT INTO punches ({', '.join(COLUMNS)}) VALUES ({marks})"  # noqa: S608 -- constants
            batch: list[tuple[Any, ...]] = []
            cursor.execute("BEGIN")
            for row in _rows(n, people, serials):
                r = list(row)
                r[3] = r[3].strftime(fmt)
                r[4] = r[4].replace(tzinfo=None).strftime(fmt)
                r[12] = r[12].replace(tzinfo=None).strftime(fmt)
                batch.append(tuple(r))
                if len(batch) == 100_000:
                    cursor.executemany(sql, batch)
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)
            cursor.execute("COMMIT")
        else:
            with cursor.copy(f"COPY punches ({', '.join(COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in _rows(n, people, serials):
                    copy.write_row(row)
            raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        for index in indexes:
            index.create(conn)
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE) punches"))
    return time.perf_counter() - started


# --------------------------------------------------------------------------- timing
def timed(runs: int, fn: Callable[[], object]) -> tuple[float, float]:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
    return statistics.median(times), p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--punches", type=int, default=5_000_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time a database a previous run loaded (--database-url) instead of loading",
    )
    parser.add_argument(
        "--export", action="store_true", help="also export every punch once as CSV and XLSX"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="rollcall-bench-web-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    if args.reuse:
        migrate.upgrade(url)  # a database kept from an older run gets the newer schema
        engine = make_engine(url)
        with engine.connect() as conn:
            found = conn.execute(text("SELECT count(*) FROM punches")).scalar_one()
        print(f"reusing {found:,} punches in {engine.dialect.name}")
        args.punches = found
    else:
        if url.startswith("postgresql"):
            reset = sqlalchemy.create_engine(url)
            with reset.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            reset.dispose()
        migrate.upgrade(url)
        engine = make_engine(url)
        print(f"loading {args.punches:,} punches into {engine.dialect.name} ...", flush=True)
        seconds = load(engine, args.punches)
        print(f"loaded in {seconds:.0f} s ({args.punches / seconds:,.0f} rows/s incl. indexes)")

    from server.app import create_app

    (workdir / "data").mkdir(exist_ok=True)
    settings = Settings(
        home=workdir,
        database_url=url,
        secret_key="bench-secret-" + "x" * 40,
        key_file=workdir / "kek.key",
        data_dir=workdir / "data",
        timezone=ZONE,
    )
    app = create_app(settings, engine=engine, sessions=make_sessionmaker(engine))
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = _CSRF.search(page)
    assert token
    signed = client.post(
        "/login",
        data={"username": "bench-admin", "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert signed.status_code == 302, signed.status_code

    first = client.get("/punches").get_data(as_text=True)
    older = _OLDER.search(first)
    assert older, "no next page link"
    next_url = older.group(1).replace("&amp;", "&")
    with make_sessionmaker(engine)() as db:
        someone = db.scalar(select(Employee.employee_code).where(Employee.id == 1234))
        department = db.scalar(select(Department.id).order_by(Department.id).offset(3))

    # An HR manager limited to that department: the scoped paths (their own queries).
    with make_sessionmaker(engine)() as db:
        if db.scalar(select(Account.id).where(Account.username == "bench-scoped")) is None:
            scoped = create_account(
                db,
                username="bench-scoped",
                password=PASSWORD,
                role="hr_manager",
                actor=Actor.system("bench"),
            )
            scoped.must_change_password = False
            db.flush()
            db.execute(
                account_departments.insert(),
                [{"account_id": scoped.id, "department_id": department}],
            )
            db.commit()
    scoped_client = app.test_client()
    token = _CSRF.search(scoped_client.get("/login").get_data(as_text=True))
    assert token
    signed = scoped_client.post(
        "/login",
        data={"username": "bench-scoped", "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert signed.status_code == 302, signed.status_code

    def get(url: str, who: Any = client) -> Callable[[], object]:
        def do() -> object:
            response = who.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return response

        return do

    cases = [
        ("punch browser, first page", get("/punches")),
        ("punch browser, next page", get(next_url)),
        ("punch browser, one employee", get(f"/punches?person={someone}")),
        ("punch browser, one department", get(f"/punches?department={department}")),
        ("employee search", get("/employees?q=lima")),
        ("dashboard", get("/")),
        ("punch browser, scoped manager", get("/punches", scoped_client)),
        ("dashboard, scoped manager", get("/", scoped_client)),
    ]
    columns = ", ".join(f"punches.{c.name}" for c in Punch.__table__.columns)  # type: ignore[attr-defined]
    bare = text(
        f"SELECT {columns} FROM punches ORDER BY occurred_at DESC, id DESC LIMIT 51"  # noqa: S608 -- constants
    )

    def baseline() -> object:
        with engine.connect() as conn:
            return conn.execute(bare).all()

    base50, base95 = timed(args.runs, baseline)
    print()
    print(
        f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"{engine.dialect.name} {'.'.join(map(str, engine.dialect.server_version_info or ()))}, "
        f"{args.punches:,} punches, {EMPLOYEES:,} employees, {args.runs} runs each"
    )
    print(f"{'page':34} {'p50 ms':>8} {'p95 ms':>8} {'p50/baseline':>13}")
    print(f"{'baseline: bare SELECT of 51 rows':34} {base50:8.1f} {base95:8.1f} {1:13.1f}")
    for name, fn in cases:
        p50, p95 = timed(args.runs, fn)
        flag = "" if p95 < 150 else "  (over 150 ms)"
        print(f"{name:34} {p50:8.1f} {p95:8.1f} {p50 / base50:13.1f}{flag}")
    if args.export:
        export_all(client)
    engine.dispose()


def export_all(client: Any) -> None:
    """One export of every punch in each format: time, size and the process's peak memory
    (restricted employees are left out, so a few rows fewer than loaded)."""
    import resource

    page = client.get("/punches").get_data(as_text=True)
    token = _CSRF.search(page)
    assert token
    print()
    for fmt in ("csv", "xlsx"):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        response = client.post(
            "/punches/export", data={"format": fmt, "csrf_token": token.group(1)}, buffered=False
        )
        if response.status_code != 200:
            print(f"export {fmt}: refused ({response.status_code}), e.g. too many rows for XLSX")
            continue
        size = sum(len(chunk) for chunk in response.response)
        seconds = time.perf_counter() - start
        rows = int(response.headers.get("X-Export-Rows", 0))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(
            f"export {fmt}: {rows:,} rows, {size / 1e6:.0f} MB in {seconds:.1f} s "
            f"({rows / seconds:,.0f} rows/s); peak RSS {after / 1024:.0f} MiB "
            f"(+{(after - before) / 1024:.0f} MiB)"
        )


if __name__ == "__main__":
    main()
