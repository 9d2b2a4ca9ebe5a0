# SPDX-License-Identifier: GPL-2.0-or-later
"""Correcting a punch from the web pages (issue #7): proposed with a reason, decided by
someone else, the punch kept as recorded, within the department scope."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.attendance.models import Punch, PunchCorrection
from server.audit.services import Actor
from server.rights.services import receive_request
from tests.web.conftest import ZONE, World, add_punch, audit_count, last_audit, page_token


def _punch(db: Session, world: World, who: str = "ana", state: int = 0) -> Punch:
    at = (datetime.now(UTC) - timedelta(days=3)).replace(hour=7, minute=58, microsecond=0)
    punch = add_punch(db, world.employees[who], at, state=state)
    db.commit()
    return punch


def _propose(client: Any, punch_id: int, **fields: str) -> Any:
    data = {
        "action": "amend",
        "day": "",
        "at": "",
        "state": "",
        "reason": "forgot_to_punch",
        "note": "",
        "request_id": "",
        "csrf_token": page_token(client, f"/punches/{punch_id}"),
        **fields,
    }
    return client.post(f"/punches/{punch_id}/corrections", data=data)


def _corrections(db: Session, punch_id: int) -> list[PunchCorrection]:
    db.expire_all()
    return list(db.scalars(select(PunchCorrection).where(PunchCorrection.punch_id == punch_id)))


def test_a_correction_is_proposed_decided_by_someone_else_and_then_counts(
    client: Any, db: Session, world: World, sign_in: Callable[..., Any]
) -> None:
    punch = _punch(db, world)
    recorded = punch.occurred_at
    proposer = sign_in("hr_manager")
    page = client.get(f"/punches/{punch.id}")
    assert page.status_code == 200
    assert 'id="propose-correction"' in page.get_data(as_text=True)
    assert last_audit(db, "punch.viewed").subject_employee_id == world.employees["ana"].id

    local = recorded.astimezone(ZoneInfo(ZONE))
    day = local.date().isoformat()
    done = _propose(client, punch.id, day=day, at="08:15", reason="terminal_fault", note="gate")
    assert done.status_code == 302, done.get_data(as_text=True)
    [fix] = _corrections(db, punch.id)
    assert (fix.status, fix.reason, fix.author_id, fix.note) == (
        "proposed",
        "terminal_fault",
        proposer.id,
        "gate",
    )
    assert fix.occurred_at == datetime.fromisoformat(f"{day}T08:15").replace(tzinfo=ZoneInfo(ZONE))
    # Four eyes: the proposer sees no buttons, and a forged POST decides nothing.
    shown = client.get(f"/punches/{punch.id}").get_data(as_text=True)
    assert f'id="approve-{fix.id}"' not in shown
    token = page_token(client, f"/punches/{punch.id}")
    client.post(f"/punches/corrections/{fix.id}/approve", data={"csrf_token": token})
    assert _corrections(db, punch.id)[0].status == "proposed"

    client.post("/logout", data={"csrf_token": page_token(client, "/")})
    sign_in("privacy_officer")
    listed = client.get("/punches/corrections").get_data(as_text=True)
    assert f'id="approve-{fix.id}"' in listed
    token = page_token(client, "/punches/corrections")
    decided = client.post(
        f"/punches/corrections/{fix.id}/approve", data={"csrf_token": token, "next": "pending"}
    )
    assert decided.headers["Location"].endswith("/punches/corrections")
    assert _corrections(db, punch.id)[0].status == "approved"
    assert audit_count(db, "punch.correction_approved") == 1
    # The punch stays as recorded; the browser and the detail show the corrected time.
    db.expire_all()
    assert db.get(Punch, punch.id).occurred_at == recorded  # type: ignore[union-attr]
    detail = client.get(f"/punches/{punch.id}").get_data(as_text=True)
    effective = detail.split('id="effective"')[1].split("</section>")[0]
    assert f"{day} 08:15:00" in effective
    browser = client.get("/punches", query_string={"person": "1001"}).get_data(as_text=True)
    row = browser.split(f'<tr id="p{punch.id}"')[1].split("</tr>")[0]
    assert f"{day} 08:15:00" in row
    assert "corrected" in row


def test_a_bad_correction_is_refused_and_stores_nothing(
    client: Any, db: Session, world: World, sign_in: Callable[..., Any]
) -> None:
    punch = _punch(db, world)
    sign_in("hr_manager")
    day = punch.occurred_at.astimezone(ZoneInfo(ZONE)).date().isoformat()
    bad = [
        {},  # an amendment without a new time or punch type
        {"day": day},  # a date without a time
        {"action": "void", "state": "1"},  # a voided punch takes nothing new
        {"state": "1", "reason": ""},  # no reason
        {"state": "1", "reason": "other"},  # 'other' needs a note
        {"day": "2999-01-01", "at": "08:00"},  # the future
        {"state": "7"},  # no such punch type
        {"state": "1", "note": "x" * 501},
    ]
    for fields in bad:
        response = _propose(client, punch.id, **fields)
        assert response.status_code == 400, fields
        assert 'class="field-error"' in response.get_data(as_text=True), fields
    assert _corrections(db, punch.id) == []


def test_a_correction_answers_only_the_employees_own_rectification_request(
    client: Any, db: Session, world: World, sign_in: Callable[..., Any]
) -> None:
    punch = _punch(db, world)
    admin = sign_in("privacy_officer")
    actor = Actor("account", admin.id)
    theirs = receive_request(
        db, employee_id=world.employees["ana"].id, kind="rectification", actor=actor
    )
    other = receive_request(
        db, employee_id=world.employees["bo"].id, kind="rectification", actor=actor
    )
    db.commit()
    refused = _propose(client, punch.id, state="1", request_id=str(other.id))
    assert refused.status_code == 400
    assert _corrections(db, punch.id) == []
    accepted = _propose(
        client, punch.id, state="1", reason="employee_request", request_id=str(theirs.id)
    )
    assert accepted.status_code == 302
    assert _corrections(db, punch.id)[0].request_id == theirs.id


def test_read_only_roles_see_the_corrections_but_cannot_propose_or_decide(
    client: Any, db: Session, world: World, sign_in: Callable[..., Any]
) -> None:
    punch = _punch(db, world)
    sign_in("hr_viewer")
    page = client.get(f"/punches/{punch.id}").get_data(as_text=True)
    assert 'id="corrections"' in page
    assert 'id="propose-correction"' not in page
    token = page_token(client, f"/punches/{punch.id}")
    forged = client.post(
        f"/punches/{punch.id}/corrections",
        data={"action": "void", "reason": "duplicate", "csrf_token": token},
    )
    assert forged.status_code == 403
    assert _corrections(db, punch.id) == []


def test_a_scoped_hr_manager_cannot_open_or_correct_another_departments_punch(
    client: Any, db: Session, world: World, sign_in: Callable[..., Any]
) -> None:
    office = _punch(db, world, who="bo")
    own = _punch(db, world, who="ana")
    unmapped = add_punch(db, None, datetime.now(UTC) - timedelta(days=1), pin="77")
    db.commit()
    sign_in("hr_manager", departments=(world.departments["plant"],))
    assert client.get(f"/punches/{own.id}").status_code == 200
    assert client.get(f"/punches/{office.id}").status_code == 404
    assert client.get(f"/punches/{unmapped.id}").status_code == 404
    token = page_token(client, f"/punches/{own.id}")
    refused = client.post(
        f"/punches/{office.id}/corrections",
        data={"action": "void", "reason": "duplicate", "csrf_token": token},
    )
    assert refused.status_code == 404
    assert _corrections(db, office.id) == []
    listed = client.get("/punches/corrections").get_data(as_text=True)
    assert "Chen" not in listed


def test_a_punch_of_an_unmapped_pin_is_shown_but_not_corrected(
    client: Any, db: Session, sign_in: Callable[..., Any]
) -> None:
    unmapped = add_punch(db, None, datetime.now(UTC) - timedelta(days=1), pin="77")
    db.commit()
    sign_in("admin")
    page = client.get(f"/punches/{unmapped.id}").get_data(as_text=True)
    assert "PIN not mapped" in page
    assert 'id="propose-correction"' not in page
    token = page_token(client, f"/punches/{unmapped.id}")
    response = client.post(
        f"/punches/{unmapped.id}/corrections",
        data={"action": "void", "reason": "duplicate", "csrf_token": token},
    )
    assert response.status_code == 302
    assert _corrections(db, unmapped.id) == []
