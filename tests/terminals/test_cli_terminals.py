# SPDX-License-Identifier: GPL-2.0-or-later
"""What an IT admin types: add a terminal, sync it, list health, run the worker (real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from server.attendance.models import Punch
from server.db import make_engine
from server.settings import load_settings
from tests.conftest import ROLLCALL, run


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLLCALL_")}
    env["ROLLCALL_HOME"] = str(home)
    return env


def test_an_admin_adds_a_terminal_syncs_it_and_sees_its_health(
    cli_instance: tuple[Path, str], simulator: Any
) -> None:
    home, _ = cli_instance
    term = simulator.start(users=10, records=500, comm_key=777)
    added = run(
        home,
        "terminals",
        "add",
        f"127.0.0.1:{term.port}",
        "--comm-key",
        "777",
        "--name",
        "Gate",
        "--timezone",
        "UTC",
    )
    assert added.returncode == 0, added.stderr
    assert f"Added terminal {term.serial} (Gate" in added.stdout
    synced = run(home, "sync", term.serial)
    assert synced.returncode == 0, synced.stderr
    assert "read 500, new 500, duplicate 0, quarantined 0" in synced.stdout
    again = run(home, "sync", "--all")
    assert "unchanged (500 records on the terminal)" in again.stdout
    listed = run(home, "terminals", "list")
    line = next(x for x in listed.stdout.splitlines() if x.startswith(term.serial))
    assert " online " in line
    assert run(home, "terminals", "quarantine").stdout.strip() == "No quarantined punches."
    term.faults.add_bogus_punches(1)  # a clock reset to 2000-01-01
    run(home, "sync", term.serial)
    held = run(home, "terminals", "quarantine", "--serial", term.serial).stdout
    assert "2000-01-01 00:00:00  terminal clock reset (year 2000 default)" in held


def test_bad_requests_get_a_clear_error_and_a_failing_exit(
    cli_instance: tuple[Path, str], simulator: Any
) -> None:
    home, _ = cli_instance
    term = simulator.start(comm_key=5)
    cases = [
        (("terminals", "add", "127.0.0.1:99999"), "not a port number"),
        (("terminals", "add", f"127.0.0.1:{term.port}", "--comm-key", "6"), "refused the comm key"),
        (("sync",), "name one terminal's SERIAL, or --all"),
        (("sync", "NOSUCHSERIAL"), "no terminal NOSUCHSERIAL"),
    ]
    for args, message in cases:
        result = run(home, *args)
        assert result.returncode != 0, args
        assert message in result.stderr, (args, result.stderr)
    assert "No terminals yet" in run(home, "terminals", "list").stdout


def test_a_worker_killed_mid_ingest_loses_and_duplicates_nothing(
    cli_instance: tuple[Path, str], simulator: Any
) -> None:
    home, _ = cli_instance
    total = 60_000
    term = simulator.start(users=50, records=total)
    assert run(home, "terminals", "add", f"127.0.0.1:{term.port}").returncode == 0
    engine = make_engine(load_settings(home, environ={}).database_url)

    def stored() -> int:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(Punch)) or 0

    worker = subprocess.Popen(
        [ROLLCALL, "worker", "--threads", "1", "--lease-seconds", "5"],
        env=_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        seen = 0
        while time.monotonic() < deadline:
            seen = stored()
            if 0 < seen < total:
                break
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            time.sleep(0.005)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
        if worker.stderr:
            worker.stderr.close()
    assert 0 < seen < total, "the worker was not caught in the middle of an ingest"
    assert stored() < total
    time.sleep(5.5)  # the dead worker's lease runs out
    resumed = run(home, "worker", "--once", "--lease-seconds", "5", timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    with engine.connect() as conn:
        rows = set(conn.execute(select(Punch.pin, Punch.device_time)).all())
    engine.dispose()
    assert len(rows) == total
    assert rows == {(p.user_id, p.timestamp) for p in term.device.attendance()}


def test_an_admin_places_a_terminal_and_an_employee_reaches_it(
    cli_instance: tuple[Path, str], simulator: Any
) -> None:
    from sqlalchemy.orm import Session

    from server.employees.models import Employee

    home, _ = cli_instance
    term = simulator.start(empty=True)
    assert run(home, "terminals", "add", f"127.0.0.1:{term.port}").returncode == 0
    assert run(home, "areas", "add", "HQ", "Head office").returncode == 0
    assert run(home, "areas", "add", "LAB", "Lab", "--parent", "HQ").returncode == 0
    dup = run(home, "areas", "add", "HQ", "Again")
    assert dup.returncode == 1
    assert "exists already" in dup.stderr
    placed = run(home, "terminals", "place", term.serial, "LAB")
    assert "placed in LAB; a reconciliation is queued" in placed.stdout
    engine = make_engine(load_settings(home, environ={}).database_url)
    try:
        with Session(engine) as db:
            db.add(Employee(employee_code="5001", given_name="Rui", family_name="Lopes"))
            db.commit()
    finally:
        engine.dispose()
    assigned = run(home, "employees", "areas", "5001", "HQ")
    assert "queued for 1 terminal(s), removal from 0" in assigned.stdout, assigned.stderr
    waiting = run(home, "terminals", "outbox")
    assert f"{term.serial:<16} {2:>7}" in waiting.stdout  # the reconcile and the put
    assert run(home, "worker", "--once").returncode == 0
    user = term.device.user_by_id("5001")
    assert user is not None
    assert user.name == "Rui Lopes"
    done = run(home, "terminals", "outbox", term.serial, "--all")
    assert done.stdout.count(" done ") == 2
    refused = run(home, "terminals", "enrol", "5001", term.serial, "3")
    assert refused.returncode == 1
    assert "needs a recorded consent" in refused.stderr
    # the reason as the pages name it, not its stored code
    assert "(Biometrics are switched off in Settings)" in refused.stderr, refused.stderr
    listed = run(home, "areas", "list").stdout
    assert any(line.startswith("LAB") and term.serial in line for line in listed.splitlines())
