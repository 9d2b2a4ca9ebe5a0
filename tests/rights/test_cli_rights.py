# SPDX-License-Identifier: GPL-2.0-or-later
"""``rollcall rights export``: the access package as a private file, and a clear refusal."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

from server.db import make_engine, make_sessionmaker
from server.employees.models import Employee
from server.settings import load_settings
from tests.conftest import run


def test_an_admin_exports_an_employees_package_to_a_private_file(
    cli_instance: tuple[Path, str], tmp_path: Path
) -> None:
    home, _ = cli_instance
    engine = make_engine(load_settings(home, environ={}).database_url)
    with make_sessionmaker(engine)() as db:
        db.add(Employee(employee_code="7001", given_name="Ines", family_name="Duarte"))
        db.commit()
    engine.dispose()
    out = tmp_path / "ines.zip"
    result = run(home, "rights", "export", "7001", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data = json.loads(zipfile.ZipFile(out).read("data.json"))
    assert data["data"]["employees"][0]["family_name"] == "Duarte"
    assert "does not expire" in result.stderr  # the admin is told what a loose file means
    missing = run(home, "rights", "export", "0000")
    assert missing.returncode == 1
    assert "no employee with code '0000'" in missing.stderr
    register = run(home, "rights", "register", "--out", str(tmp_path / "register.csv"))
    assert register.returncode == 0, register.stderr
    assert (tmp_path / "register.csv").read_text().startswith("id,employee_id,kind,status")


def test_an_admin_restricts_processing_and_lifts_it_after_telling_the_employee(
    cli_instance: tuple[Path, str],
) -> None:
    home, _ = cli_instance
    engine = make_engine(load_settings(home, environ={}).database_url)
    with make_sessionmaker(engine)() as db:
        db.add(Employee(employee_code="7002", given_name="Rui", family_name="Lopes"))
        db.commit()
    engine.dispose()
    done = run(home, "rights", "restrict", "7002", "--ground", "objection_pending")
    assert done.returncode == 0, done.stderr
    assert "7002: processing restricted" in done.stdout
    again = run(home, "rights", "restrict", "7002", "--ground", "objection_pending")
    assert again.returncode == 1
    assert "restricted already" in again.stderr
    lifted = run(home, "rights", "lift-restriction", "7002", "--told", "letter")
    assert lifted.returncode == 0, lifted.stderr
    assert "restriction lifted" in lifted.stdout
    assert run(home, "rights", "lift-restriction", "7002", "--told", "letter").returncode == 1


def test_an_admin_erases_an_employee_from_the_command_line_and_reads_the_receipt(
    cli_instance: tuple[Path, str],
) -> None:
    from server.audit.services import Actor
    from server.rights import services as register

    home, _ = cli_instance
    settings = load_settings(home, environ={})
    engine = make_engine(settings.database_url)
    with make_sessionmaker(engine)() as db:
        e = Employee(employee_code="7003", given_name="Eva", family_name="Reis")
        db.add(e)
        db.flush()
        req = register.receive_request(db, employee_id=e.id, kind="erasure", actor=Actor("t"))
        db.commit()
        request_id = req.id
    engine.dispose()
    due = run(home, "rights", "due")
    assert due.returncode == 0, due.stderr
    assert "No request is overdue or due soon." in due.stdout
    link = run(home, "rights", "export", "7003", "--days", "2")
    assert link.returncode == 0, link.stderr
    assert "/downloads/" in link.stdout
    early = run(home, "rights", "erase", str(request_id))
    assert early.returncode == 1
    assert "identity is not verified" in early.stderr
    engine = make_engine(settings.database_url)
    with make_sessionmaker(engine)() as db:
        register.verify_identity(db, request_id, method="in_person", actor=Actor("t"))
        register.start_work(db, request_id, actor=Actor("t"))
        db.commit()
    engine.dispose()
    done = run(home, "rights", "erase", str(request_id))
    assert done.returncode == 0, done.stderr
    assert "completed" in done.stdout
    assert list((settings.data_dir / "exports").iterdir()) == []  # the package went too
    receipt = run(home, "rights", "erasure", "1")
    assert receipt.returncode == 0, receipt.stderr
    assert "Receipt matches the operation log." in receipt.stdout
    assert "Reis" not in receipt.stdout
    assert "erasure-tombstones" in str(list(settings.data_dir.iterdir()))
    purged = run(home, "rights", "purge-expired")
    assert purged.returncode == 0, purged.stderr
    assert "Removed 0 expired download(s)" in purged.stdout


def test_a_package_written_for_a_request_also_answers_it_in_the_register(
    cli_instance: tuple[Path, str], tmp_path: Path
) -> None:
    from server.audit.services import Actor
    from server.rights import services as register

    home, _ = cli_instance
    engine = make_engine(load_settings(home, environ={}).database_url)
    actor = Actor.system("test")
    with make_sessionmaker(engine)() as db:
        ines = Employee(employee_code="7002", given_name="Ines", family_name="Duarte")
        db.add(ines)
        db.flush()
        req = register.receive_request(db, employee_id=ines.id, kind="access", actor=actor)
        register.verify_identity(db, req.id, method="in_person", actor=actor)
        register.start_work(db, req.id, actor=actor)
        db.commit()
        request_id = req.id
    out = tmp_path / "ines.zip"
    result = run(home, "rights", "export", "7002", "--out", str(out), "--request", str(request_id))
    assert result.returncode == 0, result.stderr
    assert out.exists()
    assert "/downloads/" in result.stdout
    with make_sessionmaker(engine)() as db:
        register.complete_request(db, request_id, actor=actor)  # answered: no refusal
        db.commit()
    engine.dispose()
