# SPDX-License-Identifier: GPL-2.0-or-later
"""A request's page (#7 review): the buttons shown are what its state allows, its history is
there, nothing is done before the identity is verified, an erasure resumes, and lifting a
restriction records the day the employee was told."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.audit.models import AuditEvent
from server.db import utcnow
from server.employees.models import Employee
from server.rights import services as register
from server.rights.models import Download, ErasureRun, SubjectRequest
from server.settings import Settings
from tests.conftest import csrf_token
from tests.rights.test_request_workflow import ACTOR, gdpr, waiting_erasure

PASSWORD = "correct horse battery"


@pytest.fixture
def officer_account(create_account: Callable[..., Any]) -> Any:
    return create_account(username="dpo", display_name="Dana Officer", role="privacy_officer")


@pytest.fixture
def officer(client: Any, login: Callable[[str, str], Any], officer_account: Any) -> Any:
    login("dpo", PASSWORD)
    return client


@pytest.fixture
def eva(db: Session) -> Employee:
    e = Employee(employee_code="E77", given_name="Eva", family_name="Lima")
    db.add(e)
    gdpr(db)
    db.commit()
    return e


def post(client: Any, url: str, data: dict[str, str], page: str) -> str:
    token = csrf_token(client.get(page).get_data(as_text=True))
    response = client.post(url, data={**data, "csrf_token": token}, follow_redirects=True)
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def new_request(client: Any, db: Session, employee: Employee, kind: str) -> tuple[int, str]:
    post(
        client,
        "/rights/requests",
        {"employee_code": employee.employee_code, "kind": kind},
        "/rights/requests",
    )
    db.expire_all()
    req = db.scalars(
        select(SubjectRequest)
        .where(SubjectRequest.employee_id == employee.id)
        .order_by(SubjectRequest.id.desc())
    ).first()
    assert req is not None
    return req.id, f"/rights/requests/{req.id}"


def buttons(page: str, request_id: int) -> set[str]:
    """The actions the page offers, by the form each posts to."""
    return set(re.findall(rf'action="/rights/requests/{request_id}/([a-z]+)"', page))


def flash_errors(page: str) -> list[str]:
    return re.findall(r'class="flash flash-error"[^>]*>\s*([^<]*)', page)


def test_an_extended_request_offers_the_next_step_its_state_allows(
    officer: Any, db: Session, eva: Employee
) -> None:
    rid, url = new_request(officer, db, eva, "erasure")
    page = post(officer, f"{url}/extend", {"reason": "Busy season"}, url)
    assert 'id="extended"' in page
    listing = officer.get("/rights/requests").get_data(as_text=True)
    assert 'badge-warn">extended<' in listing  # the register shows it too
    assert buttons(page, rid) == {"verify", "refuse"}  # extended once; verify first
    page = post(officer, f"{url}/verify", {"method": "in_person"}, url)
    assert buttons(page, rid) == {"start", "refuse"}
    page = post(officer, f"{url}/start", {}, url)
    assert buttons(page, rid) == {"erase", "refuse"}
    # and started first, extended next: the erasure is still offered, and it works
    rid2, url2 = new_request(officer, db, eva, "access")
    post(officer, f"{url2}/verify", {"method": "in_person"}, url2)
    post(officer, f"{url2}/start", {}, url2)
    page = post(officer, f"{url2}/extend", {"reason": "Many records"}, url2)
    assert buttons(page, rid2) == {"package", "refuse"}  # completed once answered
    page = post(officer, f"{url2}/package", {}, url2)
    assert buttons(page, rid2) == {"package", "complete"}  # no refusal after a package
    page = post(officer, f"{url2}/complete", {}, url2)
    assert flash_errors(page) == []
    assert db.get(SubjectRequest, rid2).status == "completed"  # type: ignore[union-attr]


def test_a_requests_history_shows_each_step(officer: Any, db: Session, eva: Employee) -> None:
    _rid, url = new_request(officer, db, eva, "access")
    post(officer, f"{url}/verify", {"method": "in_person"}, url)
    post(officer, f"{url}/start", {}, url)
    page = post(officer, f"{url}/extend", {"reason": "Many records"}, url)
    history = page.split('id="history"')[1].split("</ol>")[0]
    for action in ("request.received", "request.identity_verified", "request.started"):
        assert action in history
    assert "request.extended" in history


def test_the_page_says_who_verified_the_identity_and_how(
    officer: Any, officer_account: Any, db: Session, eva: Employee
) -> None:
    _rid, url = new_request(officer, db, eva, "access")
    assert "not verified yet" in officer.get(url).get_data(as_text=True)
    page = post(officer, f"{url}/verify", {"method": "known_channel"}, url)
    identity = page.split('id="identity"')[1].split("</dd>")[0]
    assert "registered e-mail or phone" in identity
    assert "Dana Officer" in identity
    assert f"account {officer_account.id}" in identity


@pytest.mark.parametrize("kind", ["access", "copy"])
def test_no_package_is_made_before_the_identity_is_verified(
    officer: Any, db: Session, eva: Employee, kind: str
) -> None:
    rid, url = new_request(officer, db, eva, kind)
    page = post(officer, f"{url}/package", {}, url)
    assert "identity is not verified" in " ".join(flash_errors(page))
    assert "Package ready" not in page
    post(officer, f"{url}/verify", {"method": "in_person"}, url)
    page = post(officer, f"{url}/package", {}, url)  # verified, not started
    assert flash_errors(page)
    assert db.scalar(select(func.count()).select_from(Download)) == 0
    assert db.get(SubjectRequest, rid).status == "identity_verified"  # type: ignore[union-attr]


def test_an_erasure_waiting_for_a_terminal_resumes_from_the_page(
    officer: Any,
    db: Session,
    sessions: sessionmaker[Session],
    eva: Employee,
    settings: Settings,
) -> None:
    req = waiting_erasure(db, sessions, eva, settings.data_dir)
    url = f"/rights/requests/{req.id}"
    page = officer.get(url).get_data(as_text=True)
    assert buttons(page, req.id) == {"erase", "extend"}  # resume; no refusal any more
    assert "Resume the erasure" in page
    page = post(officer, f"{url}/erase", {}, url)
    assert flash_errors(page) == []
    assert "Waiting for 1 terminal(s) to confirm" in page
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(ErasureRun)) == 1
    assert db.get(SubjectRequest, req.id).status == "waiting_for_terminals"  # type: ignore[union-attr]
    # a refusal posted anyway is refused and changes nothing
    page = post(officer, f"{url}/refuse", {"reason": "legal_obligation", "text": "No."}, url)
    assert "erasure has started" in " ".join(flash_errors(page))
    db.expire_all()
    assert db.get(SubjectRequest, req.id).status == "waiting_for_terminals"  # type: ignore[union-attr]
    # and a waiting request can still be extended: an offline terminal is why
    page = post(officer, f"{url}/extend", {"reason": "A terminal is offline"}, url)
    assert flash_errors(page) == []
    db.expire_all()
    extended = db.get(SubjectRequest, req.id)
    assert extended is not None
    assert (extended.status, extended.extended_at is not None) == ("waiting_for_terminals", True)


def test_the_extension_notice_cannot_be_dated_before_the_request(
    officer: Any, db: Session, eva: Employee
) -> None:
    req = register.receive_request(
        db,
        employee_id=eva.id,
        kind="access",
        actor=ACTOR,
        received_at=utcnow() - timedelta(days=5),
    )
    db.commit()
    url = f"/rights/requests/{req.id}"
    for day in (utcnow() - timedelta(days=6), utcnow() + timedelta(days=1)):
        page = post(
            officer, f"{url}/extend", {"reason": "x", "notified_on": f"{day:%Y-%m-%d}"}, url
        )
        assert flash_errors(page)
    db.expire_all()
    assert db.get(SubjectRequest, req.id).extended_at is None  # type: ignore[union-attr]


def restriction_in_progress(officer: Any, db: Session, eva: Employee) -> tuple[int, str]:
    rid, url = new_request(officer, db, eva, "restriction")
    post(officer, f"{url}/verify", {"method": "in_person"}, url)
    post(officer, f"{url}/start", {}, url)
    return rid, url


def test_restriction_needs_a_verified_request_in_progress(
    officer: Any, db: Session, eva: Employee
) -> None:
    _rid, url = new_request(officer, db, eva, "restriction")
    page = post(officer, f"{url}/restrict", {"ground": "accuracy_contested"}, url)
    assert "identity is not verified" in " ".join(flash_errors(page))
    db.expire_all()
    assert db.get(Employee, eva.id).restricted_at is None  # type: ignore[union-attr]
    # an access request's page cannot restrict either
    _rid, access = new_request(officer, db, eva, "access")
    post(officer, f"{access}/verify", {"method": "in_person"}, access)
    post(officer, f"{access}/start", {}, access)
    page = post(officer, f"{access}/restrict", {"ground": "accuracy_contested"}, access)
    assert flash_errors(page)
    db.expire_all()
    assert db.get(Employee, eva.id).restricted_at is None  # type: ignore[union-attr]


def test_lifting_a_restriction_records_the_day_the_employee_was_told(
    officer: Any, db: Session, eva: Employee
) -> None:
    _rid, url = restriction_in_progress(officer, db, eva)
    post(officer, f"{url}/restrict", {"ground": "accuracy_contested"}, url)
    db.expire_all()
    employee = db.get(Employee, eva.id)
    assert employee is not None
    employee.restricted_at = utcnow() - timedelta(days=10)  # restricted ten days ago
    db.commit()
    page = officer.get(url).get_data(as_text=True)
    assert f'value="{utcnow():%Y-%m-%d}"' in page.split('id="lift-notified_on"')[1][:200]
    for day in (utcnow() - timedelta(days=11), utcnow() + timedelta(days=1)):
        data = {"method": "letter", "notified_on": f"{day:%Y-%m-%d}"}
        page = post(officer, f"{url}/lift", data, url)
        assert flash_errors(page)
        db.expire_all()
        assert db.get(Employee, eva.id).restricted_at is not None  # type: ignore[union-attr]
    told = (utcnow() - timedelta(days=3)).date()
    page = post(officer, f"{url}/lift", {"method": "letter", "notified_on": f"{told}"}, url)
    assert flash_errors(page) == []
    event = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "employee.restriction_lifted")
    ).one()
    assert datetime.fromisoformat(event.details["notified_at"]).astimezone(UTC).date() == told


def test_a_restriction_request_completes_once_restricted_and_lifts_later(
    officer: Any, db: Session, eva: Employee
) -> None:
    rid, url = restriction_in_progress(officer, db, eva)
    page = officer.get(url).get_data(as_text=True)
    assert "complete" not in buttons(page, rid)  # nothing answered yet
    page = post(officer, f"{url}/restrict", {"ground": "accuracy_contested"}, url)
    assert buttons(page, rid) >= {"complete", "lift"}
    page = post(officer, f"{url}/complete", {}, url)
    assert flash_errors(page) == []
    db.expire_all()
    assert db.get(SubjectRequest, rid).status == "completed"  # type: ignore[union-attr]
    # The request is closed, not overdue; the restriction stays until it is lifted here.
    assert buttons(page, rid) == {"lift"}
    page = post(
        officer, f"{url}/lift", {"method": "letter", "notified_on": f"{utcnow():%Y-%m-%d}"}, url
    )
    assert flash_errors(page) == []
    db.expire_all()
    assert db.get(Employee, eva.id).restricted_at is None  # type: ignore[union-attr]
    assert buttons(page, rid) == set()
