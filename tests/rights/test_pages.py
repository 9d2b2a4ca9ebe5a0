# SPDX-License-Identifier: GPL-2.0-or-later
"""The request register in the browser (#7): each action by a privacy officer, refusals of
bad input that change nothing, and who may do what."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.employees.models import Employee
from server.rights.models import Download, ErasureRun, SubjectRequest
from tests.conftest import csrf_token

PASSWORD = "correct horse battery"


@pytest.fixture
def officer(
    client: Any, login: Callable[[str, str], Any], create_account: Callable[..., Any]
) -> Any:
    create_account(username="dpo", role="privacy_officer")
    login("dpo", PASSWORD)
    return client


@pytest.fixture
def eva(db: Session) -> Employee:
    e = Employee(employee_code="E77", given_name="Eva", family_name="Lima")
    db.add(e)
    db.commit()
    return e


def post(client: Any, url: str, data: dict[str, str], page: str = "/rights/requests") -> Any:
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, follow_redirects=True)


def request_of(db: Session, employee: Employee) -> SubjectRequest:
    db.expire_all()
    return db.scalars(select(SubjectRequest).where(SubjectRequest.employee_id == employee.id)).one()


def test_a_privacy_officer_answers_an_access_request_with_an_expiring_link(
    officer: Any, db: Session, eva: Employee
) -> None:
    page = post(officer, "/rights/requests", {"employee_code": "E77", "kind": "access"})
    assert "Request 1 registered" in page.get_data(as_text=True) or "registered" in page.get_data(
        as_text=True
    )
    req = request_of(db, eva)
    url = f"/rights/requests/{req.id}"
    post(officer, f"{url}/verify", {"method": "in_person"}, url)
    post(officer, f"{url}/start", {}, url)
    done = post(officer, f"{url}/package", {}, url).get_data(as_text=True)
    link = re.search(r"http://localhost(/downloads/[A-Za-z0-9_-]+)", done)
    assert link is not None
    fetched = officer.get(link.group(1))
    assert fetched.status_code == 200
    assert fetched.data[:2] == b"PK"
    fetched.close()
    post(officer, f"{url}/complete", {}, url)
    assert request_of(db, eva).status == "completed"
    assert db.scalar(select(Download.fetch_count)) == 1
    listing = officer.get("/rights/requests?status=closed").get_data(as_text=True)
    assert "E77" in listing
    csv = officer.get("/rights/requests.csv")
    assert csv.get_data(as_text=True).startswith("id,employee_id,kind,status")


def test_an_erasure_from_the_page_shows_its_receipt(
    officer: Any, db: Session, eva: Employee
) -> None:
    post(officer, "/rights/requests", {"employee_code": "E77", "kind": "erasure"})
    req = request_of(db, eva)
    url = f"/rights/requests/{req.id}"
    post(officer, f"{url}/verify", {"method": "known_channel"}, url)
    post(officer, f"{url}/start", {}, url)
    refused = post(officer, f"{url}/erase", {"confirm": "erase please"}, url).get_data(as_text=True)
    assert "Type ERASE to confirm" in refused
    assert db.scalar(select(func.count()).select_from(ErasureRun)) == 0
    page = post(officer, f"{url}/erase", {"confirm": "ERASE"}, url).get_data(as_text=True)
    assert "Erasure completed" in page
    assert "The receipt matches the operation log." in page
    assert 'id="erasure-receipt"' in page
    db.expire_all()
    erased = db.get(Employee, eva.id)
    assert erased is not None
    assert erased.family_name == ""
    assert "Lima" not in page


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("refuse", {"reason": "", "text": "No."}, "needs its legal ground"),
        ("refuse", {"reason": "because", "text": "No."}, "not a legal ground"),
        ("verify", {"method": "a hunch"}, ""),
        ("extend", {"reason": "busy", "notified_on": "not-a-date"}, "is not a date"),
    ],
)
def test_a_bad_action_is_explained_and_changes_nothing(
    officer: Any, db: Session, eva: Employee, action: str, data: dict[str, str], message: str
) -> None:
    post(officer, "/rights/requests", {"employee_code": "E77", "kind": "access"})
    req = request_of(db, eva)
    url = f"/rights/requests/{req.id}"
    page = post(officer, f"{url}/{action}", data, url).get_data(as_text=True)
    assert "flash-error" in page
    assert message in page
    assert request_of(db, eva).status == "received"


def test_an_unknown_employee_code_registers_nothing(officer: Any, db: Session) -> None:
    page = post(officer, "/rights/requests", {"employee_code": "NOPE", "kind": "access"})
    assert "No employee has the code NOPE" in page.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(SubjectRequest)) == 0


@pytest.mark.parametrize(("role", "reads"), [("auditor", True), ("hr_viewer", False)])
def test_an_auditor_reads_the_register_and_others_cannot_act(
    client: Any,
    login: Callable[[str, str], Any],
    create_account: Callable[..., Any],
    db: Session,
    eva: Employee,
    role: str,
    reads: bool,
) -> None:
    create_account(username="someone", role=role)
    login("someone", PASSWORD)
    listing = client.get("/rights/requests")
    assert listing.status_code == (200 if reads else 403)
    token = csrf_token(client.get("/").get_data(as_text=True))
    attempt = client.post(
        "/rights/requests", data={"employee_code": "E77", "kind": "access", "csrf_token": token}
    )
    assert attempt.status_code == 403
    assert db.scalar(select(func.count()).select_from(SubjectRequest)) == 0
    if reads:
        assert "Register a request" not in listing.get_data(as_text=True)


def test_the_register_reads_in_chinese(officer: Any, db: Session, eva: Employee) -> None:
    post(officer, "/rights/requests", {"employee_code": "E77", "kind": "erasure"})
    page = officer.get("/rights/requests", headers={"Accept-Language": "zh-CN"}).get_data(
        as_text=True
    )
    assert "员工的请求" in page
    assert "删除" in page
