# SPDX-License-Identifier: GPL-2.0-or-later
"""The API keeps the request register's rules (#7 review): an extension is no way around the
identity check, no package for an unverified request, and an erasure resumes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.employees.models import Employee
from server.rights.models import Download, ErasureRun
from server.settings import Settings
from tests.api.conftest import Api
from tests.rights.test_request_workflow import gdpr, waiting_erasure


@pytest.fixture
def person(db: Session) -> Employee:
    e = Employee(employee_code="E8", given_name="Ana", family_name="Sousa")
    db.add(e)
    gdpr(db)
    db.commit()
    return e


def test_an_extended_unverified_request_is_not_worked_on(
    api: Api, issue_token: Callable[..., str], person: Employee, db: Session
) -> None:
    token = issue_token("privacy_officer")
    rid = api.post("/requests", token, json={"employee_id": person.id, "kind": "access"})
    rid = rid.get_json()["id"]
    extended = api.post(
        f"/requests/{rid}/extend",
        token,
        json={"reason": "Busy", "notified_at": datetime.now(UTC).isoformat()},
    )
    assert extended.status_code == 200, extended.get_json()
    assert extended.get_json()["status"] == "received"
    assert api.post(f"/requests/{rid}/start", token).status_code == 409
    assert api.post(f"/requests/{rid}/complete", token).status_code == 409
    package = api.post(f"/employees/{person.id}/access-package", token, json={"request_id": rid})
    assert package.status_code == 409
    assert package.get_json()["details"]["identity_verified"] is False
    assert db.scalar(select(func.count()).select_from(Download)) == 0
    api.post(f"/requests/{rid}/verify-identity", token, json={"method": "in_person"})
    assert api.post(f"/requests/{rid}/start", token).get_json()["status"] == "in_progress"
    package = api.post(f"/employees/{person.id}/access-package", token, json={"request_id": rid})
    assert package.status_code == 201, package.get_json()


def test_an_erasure_request_is_not_refused_and_resumes_while_waiting(
    api: Api,
    issue_token: Callable[..., str],
    person: Employee,
    db: Session,
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    req = waiting_erasure(db, sessions, person, settings.data_dir)
    token = issue_token("privacy_officer")
    refused = api.post(
        f"/requests/{req.id}/refuse",
        token,
        json={"reason": "legal_obligation", "text_for_employee": "No."},
    )
    assert refused.status_code == 409
    resumed = api.post(f"/requests/{req.id}/erasure", token)
    assert resumed.status_code == 200, resumed.get_json()
    assert resumed.get_json()["state"] == "waiting_for_terminals"
    assert resumed.get_json()["waiting_on"] == ["OFFLINE1"]
    assert db.scalar(select(func.count()).select_from(ErasureRun)) == 1
    assert api.get(f"/requests/{req.id}", token).get_json()["status"] == "waiting_for_terminals"


def test_an_erasure_request_is_not_completed_by_hand(
    api: Api,
    issue_token: Callable[..., str],
    person: Employee,
    db: Session,
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    token = issue_token("privacy_officer")
    rid = api.post("/requests", token, json={"employee_id": person.id, "kind": "erasure"})
    rid = rid.get_json()["id"]
    api.post(f"/requests/{rid}/verify-identity", token, json={"method": "in_person"})
    api.post(f"/requests/{rid}/start", token)
    done = api.post(f"/requests/{rid}/complete", token)
    assert done.status_code == 409
    assert done.get_json()["details"]["answered"] is False
    db.expire_all()
    assert db.get(Employee, person.id).erased_at is None  # type: ignore[union-attr]
    assert api.get(f"/requests/{rid}", token).get_json()["status"] == "in_progress"
    # nor one waiting for its terminals
    waiting = waiting_erasure(db, sessions, person, settings.data_dir)
    assert api.post(f"/requests/{waiting.id}/complete", token).status_code == 409
    assert api.get(f"/requests/{waiting.id}", token).get_json()["status"] == (
        "waiting_for_terminals"
    )


def test_a_restriction_is_applied_and_lifted_over_the_api(
    api: Api, issue_token: Callable[..., str], person: Employee, db: Session
) -> None:
    token = issue_token("privacy_officer")
    rid = api.post("/requests", token, json={"employee_id": person.id, "kind": "restriction"})
    rid = rid.get_json()["id"]
    early = api.post(f"/requests/{rid}/restrict", token, json={"ground": "accuracy_contested"})
    assert early.status_code == 409  # identity first
    api.post(f"/requests/{rid}/verify-identity", token, json={"method": "in_person"})
    api.post(f"/requests/{rid}/start", token)
    assert api.post(f"/requests/{rid}/complete", token).status_code == 409  # not answered
    bad = api.post(f"/requests/{rid}/restrict", token, json={"ground": "because"})
    assert bad.status_code == 422
    done = api.post(f"/requests/{rid}/restrict", token, json={"ground": "accuracy_contested"})
    assert done.status_code == 200, done.get_json()
    db.expire_all()
    assert db.get(Employee, person.id).restricted_at is not None  # type: ignore[union-attr]
    assert api.post(f"/requests/{rid}/complete", token).get_json()["status"] == "completed"
    lifted = api.post(
        f"/requests/{rid}/lift-restriction",
        token,
        json={"method": "letter", "notified_at": datetime.now(UTC).isoformat()},
    )
    assert lifted.status_code == 200, lifted.get_json()
    db.expire_all()
    assert db.get(Employee, person.id).restricted_at is None  # type: ignore[union-attr]
