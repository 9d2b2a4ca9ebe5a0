# SPDX-License-Identifier: GPL-2.0-or-later
"""The API confirms by hand a terminal an erasure cannot reach, and asks the others again
(#7); each terminal of an erasure comes with why its delete waits."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from server.employees.models import Employee
from server.settings import Settings
from tests.api.conftest import Api
from tests.rights.test_erasure_by_hand import run_of, second_unreachable
from tests.rights.test_request_workflow import gdpr, waiting_erasure


@pytest.fixture
def eva(db: Session) -> Employee:
    e = Employee(employee_code="E77", given_name="Eva", family_name="Lima")
    db.add(e)
    gdpr(db)
    db.commit()
    return e


def test_the_api_confirms_by_hand_and_reports_each_terminal_with_its_reason(
    api: Api,
    issue_token: Callable[..., str],
    db: Session,
    sessions: sessionmaker[Session],
    eva: Employee,
    settings: Settings,
) -> None:
    second_unreachable(db, eva)
    db.commit()
    req = waiting_erasure(db, sessions, eva, settings.data_dir)
    run_id = run_of(db, req).id
    officer = issue_token("privacy_officer")
    auditor = issue_token("auditor")
    read_only = issue_token("privacy_officer", read_only=True)

    got = api.get(f"/erasures/{run_id}", auditor).get_json()
    assert got["waiting_on"] == ["OFFLINE1", "PUSH0002"]
    reasons = {t["serial_number"]: t["reason"] for t in got["terminals"]}
    assert reasons == {"OFFLINE1": None, "PUSH0002": "push"}

    url = f"/erasures/{run_id}/terminals/PUSH0002/confirm"
    for token in (auditor, read_only):
        assert api.post(url, token, json={"how": "terminal_reset"}).status_code == 403
    bad = api.post(url, officer, json={"how": "asked_nicely"})
    assert bad.status_code == 422
    unknown = api.post(
        f"/erasures/{run_id}/terminals/NOSUCH/confirm", officer, json={"how": "terminal_reset"}
    )
    assert unknown.status_code == 404
    assert api.get(f"/erasures/{run_id}", auditor).get_json()["waiting_on"] == [
        "OFFLINE1",
        "PUSH0002",
    ]

    retried = api.post(f"/erasures/{run_id}/retry", officer)
    assert retried.status_code == 200, retried.get_json()
    confirmed = api.post(url, officer, json={"how": "deleted_at_terminal"})
    assert confirmed.status_code == 200, confirmed.get_json()
    body = confirmed.get_json()
    assert (body["state"], body["waiting_on"]) == ("waiting_for_terminals", ["OFFLINE1"])
    push = next(t for t in body["terminals"] if t["serial_number"] == "PUSH0002")
    assert (push["state"], push["confirmed_by_hand"]) == ("done", "deleted_at_terminal")
    again = api.post(url, officer, json={"how": "terminal_reset"})
    assert again.status_code == 409
