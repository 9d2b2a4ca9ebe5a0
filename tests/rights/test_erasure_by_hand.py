# SPDX-License-Identifier: GPL-2.0-or-later
"""A terminal Rollcall cannot reach is confirmed cleared by hand (#7).

A push terminal gets no commands yet; a terminal can be broken or stolen. The erasure waits
for it, and a privacy officer who has seen it cleared records how: the receipt and the
operation log say the confirmation was made by hand, and by whom. Everything else an erasure
waits for still waits. The unreachable terminal here is a TCP address on 127.0.0.1 where
nothing listens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.audit.models import AuditEvent
from server.audit.services import Actor
from server.db import make_engine, make_sessionmaker, utcnow
from server.devices.models import Terminal, TerminalCommand
from server.employees.models import Employee
from server.errors import ConflictError, NotFoundError, ValidationError
from server.rights import erasure
from server.rights import services as register
from server.rights.models import ErasureRun, SubjectRequest
from server.rights.views import HAND_LABELS
from server.settings import Settings, load_settings
from tests.conftest import csrf_token, run, system_timezone
from tests.rights.test_request_workflow import ACTOR, gdpr, offline_terminal, waiting_erasure

PASSWORD = "correct horse battery"


@pytest.fixture
def eva(db: Session) -> Employee:
    e = Employee(employee_code="E77", given_name="Eva", family_name="Lima")
    db.add(e)
    gdpr(db)
    db.commit()
    return e


def run_of(db: Session, req: SubjectRequest) -> ErasureRun:
    db.expire_all()
    found = register.erasure_run_of(db, req.id)
    assert found is not None
    return found


def second_unreachable(db: Session, eva: Employee) -> Terminal:
    """Another terminal that held Eva (a PIN was mapped there) and cannot be reached."""
    from server.devices.models import PinMapping

    t = Terminal(
        serial_number="PUSH0002",
        name="Door",
        transport="push",
        timezone=system_timezone(),
        encoding="utf-8",
        capabilities={},
    )
    db.add(t)
    db.flush()
    db.add(
        PinMapping(
            terminal_id=t.id,
            pin="77",
            employee_id=eva.id,
            valid_from=utcnow() - timedelta(days=30),
        )
    )
    return t


def test_the_labels_offered_are_the_ways_the_service_accepts() -> None:
    assert tuple(HAND_LABELS) == erasure.HAND_CONFIRMATIONS


def test_a_terminal_confirmed_by_hand_settles_and_the_erasure_completes_when_none_waits(
    db: Session,
    sessions: sessionmaker[Session],
    eva: Employee,
    settings: Settings,
    create_account: Callable[..., Any],
) -> None:
    second_unreachable(db, eva)
    db.commit()
    req = waiting_erasure(db, sessions, eva, settings.data_dir)
    run = run_of(db, req)
    assert sorted(run.receipt["terminals"]) == ["OFFLINE1", "PUSH0002"]
    before = json.dumps(run.receipt, sort_keys=True)

    # Refused, and nothing changes: no way given, a way not on the list, a terminal the
    # erasure does not wait for, an erasure that does not exist.
    for how in ("", "asked_nicely"):
        with pytest.raises(ValidationError) as refused:
            erasure.confirm_by_hand(db, run.id, "OFFLINE1", how=how, actor=ACTOR)
        assert refused.value.details["field"] == "how"
    with pytest.raises(NotFoundError):
        erasure.confirm_by_hand(db, run.id, "NOSUCH", how="terminal_reset", actor=ACTOR)
    with pytest.raises(NotFoundError):
        erasure.confirm_by_hand(db, run.id + 99, "OFFLINE1", how="terminal_reset", actor=ACTOR)
    db.rollback()
    assert json.dumps(run_of(db, req).receipt, sort_keys=True) == before

    account = create_account(username="dpo", role="privacy_officer")
    officer = Actor(kind="account", account_id=account.id)
    entry = erasure.confirm_by_hand(db, run.id, "OFFLINE1", how="terminal_destroyed", actor=officer)
    db.commit()
    assert entry["state"] == "done"
    assert entry["by_hand"] == {
        "how": "terminal_destroyed",
        "account": account.id,
        "actor": "account",
    }
    # Its waiting delete leaves the outbox: nothing is sent to a terminal said to be gone.
    command = db.get(TerminalCommand, entry["command"])
    assert command is not None
    assert command.state == "superseded"
    # Confirmed once is enough: a second confirmation is refused.
    with pytest.raises(ConflictError):
        erasure.confirm_by_hand(db, run.id, "OFFLINE1", how="terminal_reset", actor=ACTOR)
    db.rollback()

    # The other terminal still holds the erasure up.
    outcome = erasure.run_erasure(sessions, run.id, data_dir=settings.data_dir, actor=ACTOR)
    assert (outcome.state, outcome.waiting_on) == ("waiting_for_terminals", ["PUSH0002"])
    erasure.confirm_by_hand(db, run.id, "PUSH0002", how="deleted_at_terminal", actor=officer)
    db.commit()
    outcome = erasure.run_erasure(sessions, run.id, data_dir=settings.data_dir, actor=ACTOR)
    assert outcome.state == "completed"
    db.expire_all()
    assert db.get(SubjectRequest, req.id).status == "completed"  # type: ignore[union-attr]
    done = run_of(db, req)
    assert done.receipt["terminals"]["PUSH0002"]["by_hand"]["how"] == "deleted_at_terminal"
    assert erasure.verify_receipt(db, done.id)  # the by-hand confirmations are in the chain
    logged = db.scalars(
        select(AuditEvent.details).where(
            AuditEvent.action == "rights.erasure_terminal",
            AuditEvent.object_id == str(done.id),
        )
    ).all()
    by_hand = [d for d in logged if d.get("what") == "confirmed_by_hand"]
    assert sorted((d["terminal"], d["how"]) for d in by_hand) == [
        ("OFFLINE1", "terminal_destroyed"),
        ("PUSH0002", "deleted_at_terminal"),
    ]
    with pytest.raises(ConflictError):
        erasure.confirm_by_hand(db, done.id, "PUSH0002", how="terminal_reset", actor=ACTOR)


# --------------------------------------------------------------------------- the page
def _post(client: Any, url: str, data: dict[str, str], page: str) -> str:
    token = csrf_token(client.get(page).get_data(as_text=True))
    response = client.post(url, data={**data, "csrf_token": token}, follow_redirects=True)
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def test_the_request_page_confirms_a_terminal_by_hand_and_names_who_did(
    client: Any,
    login: Callable[[str, str], Any],
    create_account: Callable[..., Any],
    db: Session,
    sessions: sessionmaker[Session],
    eva: Employee,
    settings: Settings,
) -> None:
    req = waiting_erasure(db, sessions, eva, settings.data_dir)
    url = f"/rights/requests/{req.id}"
    confirm = f"{url}/erasure/terminals/OFFLINE1/confirm"
    create_account(username="aud", role="auditor")
    login("aud", PASSWORD)
    page = client.get(url).get_data(as_text=True)
    assert "OFFLINE1" in page
    assert f'action="{confirm}"' not in page  # an auditor reads, does not act
    client.post("/logout", data={"csrf_token": csrf_token(page)})

    create_account(username="dpo", role="privacy_officer")
    login("dpo", PASSWORD)
    page = client.get(url).get_data(as_text=True)
    assert f'action="{confirm}"' in page
    assert f'action="{url}/erasure/retry"' in page

    page = _post(client, f"{url}/erasure/retry", {}, url)
    assert "1 terminal(s) asked again" in page

    page = _post(client, confirm, {}, url)  # no way chosen
    assert "Say how the terminal was cleared." in page
    db.expire_all()
    assert run_of(db, req).state == "waiting_for_terminals"

    page = _post(client, confirm, {"how": "terminal_reset"}, url)
    assert "Erasure completed." in page
    assert "confirmed by hand" in page
    row = re.search(r"<tr><td>OFFLINE1</td>(.*?)</tr>", page, re.S)
    assert row is not None
    assert "The terminal was reset to its factory settings" in row.group(1)
    assert "dpo" in row.group(1)  # who confirmed it
    assert f'action="{confirm}"' not in page  # nothing left to confirm
    db.expire_all()
    assert db.get(SubjectRequest, req.id).status == "completed"  # type: ignore[union-attr]


# --------------------------------------------------------------------------- the CLI
def test_the_cli_confirms_by_hand(cli_instance: tuple[Path, Any]) -> None:
    home, _ = cli_instance
    engine = make_engine(load_settings(home, environ={}).database_url)
    with make_sessionmaker(engine)() as db:
        e = Employee(employee_code="7010", given_name="Rui", family_name="Paz")
        db.add(e)
        offline_terminal(db)
        req = register.receive_request(db, employee_id=e.id, kind="erasure", actor=ACTOR)
        register.verify_identity(db, req.id, method="in_person", actor=ACTOR)
        register.start_work(db, req.id, actor=ACTOR)
        db.commit()
        request_id = req.id
    first = run(home, "rights", "erase", str(request_id))
    assert first.returncode == 0, first.stderr
    with make_sessionmaker(engine)() as db:
        run_id = register.erasure_run_of(db, request_id).id  # type: ignore[union-attr]
    engine.dispose()
    refused = run(
        home, "rights", "confirm-terminal", str(run_id), "NOSUCH", "--how", "terminal_reset"
    )
    assert refused.returncode != 0
    assert "NOSUCH" in refused.stderr
    done = run(
        home, "rights", "confirm-terminal", str(run_id), "OFFLINE1", "--how", "terminal_reset"
    )
    assert done.returncode == 0, done.stderr
    assert f"Erasure {run_id} completed" in done.stdout
