# SPDX-License-Identifier: GPL-2.0-or-later
"""Each /api/v1 endpoint's happy path over the real services, and bad input that changes
nothing (issue #6). Every answer is also checked against the published description."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.attendance.models import Punch, PunchCorrection
from server.audit.models import AuditEvent
from server.audit.services import VERIFICATION_FILE, load_verification
from server.devices.distribution import queue_command
from server.devices.models import CommandKind, SyncRun
from server.employees.models import Employee
from server.rights.models import Download, ErasureRun, SubjectRequest
from server.settings import Settings
from tests.api.conftest import Api

T0 = datetime(2026, 3, 2, 8, 1, tzinfo=UTC)


@pytest.fixture
def person(db: Session) -> Employee:
    e = Employee(employee_code="E7", given_name="Mira", family_name="Okafor")
    db.add(e)
    db.commit()
    return e


def new_request(api: Api, token: str, person: Employee, kind: str, **extra: Any) -> int:
    body = {"employee_id": person.id, "kind": kind, **extra}
    response = api.post("/requests", token, json=body)
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def count(db: Session, model: Any) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


def actions(db: Session) -> list[str]:
    return list(db.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


# --------------------------------------------------------------------------- terminals
def test_terminals_list_and_detail_show_health_but_never_the_comm_key(
    api: Api, issue_token: Callable[..., str], create_terminal: Callable[..., Any], db: Session
) -> None:
    t = create_terminal(name="Gate", comm_key_sealed=b"\x01sealed")
    queue_command(db, t, CommandKind.RECONCILE, cause="schedule")
    db.commit()
    token = issue_token("hr_viewer", read_only=True)
    listed = api.get("/terminals", token).get_json()
    assert [x["serial_number"] for x in listed["items"]] == [t.serial_number]
    detail = api.get(f"/terminals/{t.id}", token).get_json()
    assert detail["comm_key_set"] is True
    assert detail["outbox"]["pending"] == 1
    assert "sealed" not in str(detail)
    assert api.get("/terminals/999999", token).status_code == 404
    outbox = api.get(f"/terminals/{t.id}/outbox", token).get_json()
    assert [c["kind"] for c in outbox["items"]] == ["reconcile"]
    done = api.get(f"/terminals/{t.id}/outbox?state=done", token).get_json()
    assert done["items"] == []


def test_the_outbox_names_only_employees_within_a_scoped_callers_departments(
    api: Api,
    issue_token: Callable[..., str],
    create_account: Callable[..., Any],
    create_terminal: Callable[..., Any],
    person: Employee,
    db: Session,
) -> None:
    from server.auth.models import account_departments
    from server.organization.models import Department

    north = Department(code="N", name="North")
    south = Department(code="S", name="South")
    db.add_all([north, south])
    db.flush()
    person.department_id = north.id
    colleague = Employee(employee_code="E8", given_name="Li", family_name="Wang")
    colleague.department_id = south.id
    db.add(colleague)
    db.flush()
    t = create_terminal(name="Gate")
    queue_command(db, t, CommandKind.PUT_USER, cause="area_change", employee_id=person.id, pin="7")
    queue_command(
        db, t, CommandKind.PUT_USER, cause="area_change", employee_id=colleague.id, pin="8"
    )
    scoped = create_account(role="hr_manager")
    db.execute(account_departments.insert().values(account_id=scoped.id, department_id=south.id))
    db.commit()
    items = api.get(f"/terminals/{t.id}/outbox", issue_token(account=scoped)).get_json()["items"]
    assert [(c["employee_id"], c["pin"]) for c in items] == [(None, None), (colleague.id, "8")]
    everyone = api.get(f"/terminals/{t.id}/outbox", issue_token("admin")).get_json()["items"]
    assert [(c["employee_id"], c["pin"]) for c in everyone] == [
        (person.id, "7"),
        (colleague.id, "8"),
    ]


def test_sync_now_reads_the_terminals_punches_and_an_hr_viewer_may_not(
    api: Api,
    issue_token: Callable[..., str],
    create_terminal: Callable[..., Any],
    simulator: Any,
    db: Session,
) -> None:
    sim = simulator.start("tft", records=25)
    terminal = create_terminal(sim)
    viewer = issue_token("hr_viewer")
    assert api.post(f"/terminals/{terminal.id}/sync", viewer).status_code == 403
    assert count(db, SyncRun) == 0
    bad = api.post(f"/terminals/{terminal.id}/sync", issue_token("hr_manager"), json={"fast": 1})
    assert bad.status_code == 422
    assert bad.get_json()["details"]["field"] == "fast"
    assert count(db, SyncRun) == 0
    run = api.post(f"/terminals/{terminal.id}/sync", issue_token("hr_manager"), json={})
    assert run.status_code == 200, run.get_json()
    body = run.get_json()
    assert body["status"] in ("ok", "success", "done", "completed")
    assert body["records_read"] == 25
    assert count(db, Punch) == 25


def test_a_terminal_that_does_not_answer_gives_502_and_a_recorded_run(
    api: Api, issue_token: Callable[..., str], create_terminal: Callable[..., Any], db: Session
) -> None:
    from tests.conftest import free_port

    terminal = create_terminal(port=free_port())
    response = api.post(f"/terminals/{terminal.id}/sync", issue_token("hr_manager"))
    assert response.status_code == 502
    run_id = response.get_json()["details"]["sync_run_id"]
    run = db.get(SyncRun, run_id)
    assert run is not None
    assert run.status == "failed"


# --------------------------------------------------------------------------- rights
def test_a_request_goes_through_its_lifecycle_over_the_api(
    api: Api, issue_token: Callable[..., str], person: Employee, db: Session
) -> None:
    token = issue_token("privacy_officer")
    created = api.post("/requests", token, json={"employee_id": person.id, "kind": "rectification"})
    assert created.status_code == 201
    rid = created.get_json()["id"]
    assert created.get_json()["status"] == "received"
    verified = api.post(f"/requests/{rid}/verify-identity", token, json={"method": "in_person"})
    assert verified.get_json()["status"] == "identity_verified"
    assert api.post(f"/requests/{rid}/start", token).get_json()["status"] == "in_progress"
    extended = api.post(
        f"/requests/{rid}/extend",
        token,
        json={"reason": "many records", "notified_at": datetime.now(UTC).isoformat()},
    )
    assert extended.status_code == 200, extended.get_json()
    assert extended.get_json()["status"] == "in_progress"  # an extension is no state
    assert extended.get_json()["extended_at"] is not None
    done = api.post(f"/requests/{rid}/complete", token)
    assert done.get_json()["status"] == "completed"
    assert api.get(f"/requests/{rid}", token).get_json()["closed_at"] is not None
    assert api.get("/requests?status=open", token).get_json()["items"] == []
    # a completed request cannot be completed again: 409, nothing logged
    before = actions(db)
    assert api.post(f"/requests/{rid}/complete", token).status_code == 409
    assert actions(db) == before
    assert "request.completed" in before


def test_a_refusal_without_its_legal_ground_or_text_changes_nothing(
    api: Api, issue_token: Callable[..., str], person: Employee, db: Session
) -> None:
    token = issue_token("privacy_officer")
    rid = api.post(
        "/requests", token, json={"employee_id": person.id, "kind": "erasure"}
    ).get_json()["id"]
    for body, field in (
        ({"text_for_employee": "no"}, "reason"),
        ({"reason": "because", "text_for_employee": "no"}, "reason"),
        ({"reason": "legal_obligation"}, "text_for_employee"),
        ({"reason": "legal_obligation", "text_for_employee": ""}, "text_for_employee"),
    ):
        response = api.post(f"/requests/{rid}/refuse", token, json=body)
        assert response.status_code == 422, body
        assert response.get_json()["details"]["field"] == field
    assert db.get(SubjectRequest, rid).status == "received"  # type: ignore[union-attr]
    refused = api.post(
        f"/requests/{rid}/refuse",
        token,
        json={"reason": "legal_obligation", "text_for_employee": "Kept for the tax office."},
    )
    assert refused.get_json()["status"] == "refused"


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "access"},
        {"employee_id": "seven", "kind": "access"},
        {"employee_id": 1, "kind": "gossip"},
        {"employee_id": 1, "kind": "access", "received_at": "yesterday"},
        {"employee_id": 1, "kind": "access", "received_at": "2026-01-01T00:00:00"},
        {"employee_id": 1, "kind": "access", "priority": "high"},
    ],
)
def test_a_bad_new_request_gets_422_and_registers_nothing(
    api: Api, issue_token: Callable[..., str], person: Employee, db: Session, body: Any
) -> None:
    if body.get("employee_id") == 1:
        body = {**body, "employee_id": person.id}
    response = api.post("/requests", issue_token("privacy_officer"), json=body)
    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid"
    assert count(db, SubjectRequest) == 0


def test_a_body_that_is_not_a_json_object_is_refused(
    api: Api, issue_token: Callable[..., str], client: Any
) -> None:
    token = issue_token("privacy_officer")
    response = client.post(
        "/api/v1/requests",
        data="kind=access",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
    )
    assert response.status_code == 422


def test_deadlines_list_overdue_requests(
    api: Api, issue_token: Callable[..., str], person: Employee
) -> None:
    token = issue_token("privacy_officer")
    old = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    api.post(
        "/requests", token, json={"employee_id": person.id, "kind": "copy", "received_at": old}
    )
    items = api.get("/requests/deadlines", issue_token("auditor")).get_json()["items"]
    assert len(items) == 1
    assert items[0]["overdue"] is True


def test_an_access_package_becomes_an_expiring_download_link(
    api: Api,
    issue_token: Callable[..., str],
    person: Employee,
    db: Session,
    signed_in: Callable[..., str],
) -> None:
    token = issue_token("privacy_officer")
    assert (
        api.post(f"/employees/{person.id}/access-package", token, json={"days": 90}).status_code
        == 422
    )
    assert count(db, Download) == 0
    assert api.post("/employees/999999/access-package", token).status_code == 404
    made = api.post(f"/employees/{person.id}/access-package", token, json={"days": 2})
    assert made.status_code == 201, made.get_json()
    link = made.get_json()
    assert link["url"].startswith("/downloads/")
    assert count(db, Download) == 1
    assert "rights.access_package_built" in actions(db)
    signed_in("privacy_officer")
    with api.client.get(link["url"]) as fetched:
        assert fetched.status_code == 200
        assert fetched.data[:2] == b"PK"


def test_erasure_runs_to_completion_and_its_receipt_matches_the_log(
    api: Api, issue_token: Callable[..., str], person: Employee, db: Session
) -> None:
    token = issue_token("privacy_officer")
    rid = api.post(
        "/requests", token, json={"employee_id": person.id, "kind": "erasure"}
    ).get_json()["id"]
    # not verified yet: 409, no run opened
    assert api.post(f"/requests/{rid}/erasure", token).status_code == 409
    assert count(db, ErasureRun) == 0
    api.post(f"/requests/{rid}/verify-identity", token, json={"method": "document"})
    api.post(f"/requests/{rid}/start", token)
    assert api.get("/erasures/999999", token).status_code == 404
    response = api.post(f"/requests/{rid}/erasure", token)
    assert response.status_code == 200, response.get_json()
    run = response.get_json()
    assert run["state"] == "completed"
    assert run["waiting_on"] == []
    status = api.get(f"/erasures/{run['id']}", issue_token("auditor")).get_json()
    assert status["steps_done"] == status["steps_total"]
    receipt = api.get(f"/erasures/{run['id']}/receipt", issue_token("auditor")).get_json()
    assert receipt["matches_operation_log"] is True
    db.expire_all()
    assert db.get(Employee, person.id).given_name == ""  # type: ignore[union-attr]
    assert api.get(f"/requests/{rid}", token).get_json()["status"] == "completed"


def test_an_erasure_waits_for_a_terminal_that_must_confirm(
    api: Api,
    issue_token: Callable[..., str],
    person: Employee,
    db: Session,
    create_terminal: Callable[..., Any],
) -> None:
    from server.devices.models import PinMapping

    terminal = create_terminal(port=1)
    db.add(PinMapping(terminal_id=None, pin="77", employee_id=person.id, valid_from=T0))
    db.commit()
    token = issue_token("privacy_officer")
    rid = api.post(
        "/requests", token, json={"employee_id": person.id, "kind": "erasure"}
    ).get_json()["id"]
    api.post(f"/requests/{rid}/verify-identity", token, json={"method": "document"})
    api.post(f"/requests/{rid}/start", token)
    run = api.post(f"/requests/{rid}/erasure", token).get_json()
    assert run["state"] == "waiting_for_terminals"
    assert run["waiting_on"] == [terminal.serial_number]
    receipt = api.get(f"/erasures/{run['id']}/receipt", token)
    assert receipt.status_code == 409


# --------------------------------------------------------------------------- corrections
def _punch(db: Session, e: Employee) -> Punch:
    p = Punch(
        terminal_serial="T1",
        pin=e.employee_code,
        employee_id=e.id,
        device_time=T0.replace(tzinfo=None),
        occurred_at=T0,
        timezone="UTC",
        punch_state=0,
    )
    db.add(p)
    db.commit()
    return p


def test_a_correction_is_proposed_by_one_and_approved_by_another(
    api: Api, issue_token: Callable[..., str], person: Employee, db: Session
) -> None:
    p = _punch(db, person)
    author, approver = issue_token("hr_manager"), issue_token("hr_manager")
    bad = api.post(
        f"/punches/{p.id}/corrections",
        author,
        json={"action": "amend", "reason": "forgot_to_punch", "occurred_at": "08:00"},
    )
    assert bad.status_code == 422
    assert count(db, PunchCorrection) == 0
    proposed = api.post(
        f"/punches/{p.id}/corrections",
        author,
        json={
            "action": "amend",
            "reason": "forgot_to_punch",
            "occurred_at": (T0 - timedelta(minutes=5)).isoformat(),
        },
    )
    assert proposed.status_code == 201, proposed.get_json()
    cid = proposed.get_json()["id"]
    # four eyes: the author may not approve
    assert api.post(f"/corrections/{cid}/approve", author).status_code == 403
    approved = api.post(f"/corrections/{cid}/approve", approver)
    assert approved.get_json()["status"] == "approved"
    assert api.post(f"/corrections/{cid}/reject", approver).status_code == 409
    listed = api.get(f"/punches/{p.id}/corrections", issue_token("auditor")).get_json()
    assert [c["status"] for c in listed["items"]] == ["approved"]
    db.expire_all()
    assert db.get(Punch, p.id).occurred_at == T0  # type: ignore[union-attr]  # never changed


def test_an_unknown_punch_or_correction_is_404(
    api: Api, issue_token: Callable[..., str], person: Employee
) -> None:
    token = issue_token("hr_manager")
    assert (
        api.post(
            "/punches/999999/corrections", token, json={"action": "void", "reason": "duplicate"}
        ).status_code
        == 404
    )
    assert api.post("/corrections/999999/reject", token).status_code == 404


def test_an_hr_manager_outside_the_department_scope_cannot_see_the_punch(
    api: Api,
    issue_token: Callable[..., str],
    create_account: Callable[..., Any],
    person: Employee,
    db: Session,
) -> None:
    from server.auth.models import account_departments
    from server.organization.models import Department

    north = Department(code="N", name="North")
    south = Department(code="S", name="South")
    db.add_all([north, south])
    db.flush()
    person.department_id = north.id
    scoped = create_account(role="hr_manager")
    db.execute(account_departments.insert().values(account_id=scoped.id, department_id=south.id))
    db.commit()
    p = _punch(db, person)
    token = issue_token(account=scoped)
    assert api.get(f"/punches/{p.id}/corrections", token).status_code == 404
    refused = api.post(
        f"/punches/{p.id}/corrections", token, json={"action": "void", "reason": "duplicate"}
    )
    assert refused.status_code == 404
    assert count(db, PunchCorrection) == 0


# --------------------------------------------------------------------------- audit
def test_the_audit_status_reports_an_intact_log_and_names_a_broken_entry(
    api: Api, issue_token: Callable[..., str], db: Session, settings: Settings
) -> None:
    token = issue_token("auditor", read_only=True)
    ok = api.get("/audit/verify", token).get_json()
    assert ok["ok"] is True
    assert ok["entries"] >= 2
    # The check is logged and kept: the operation log page shows it as the last one.
    checks = db.scalars(select(AuditEvent).where(AuditEvent.action == "audit.verified")).all()
    assert [c.details["ok"] for c in checks] == [True]
    kept = load_verification(settings.data_dir / VERIFICATION_FILE)
    assert kept is not None
    assert kept.ok
    assert kept.by_kind.startswith("token")  # checked over the API, with a token
    entry = db.scalar(select(AuditEvent).order_by(AuditEvent.seq).limit(1))
    assert entry is not None
    entry.action = "tampered"
    db.commit()
    broken = api.get("/audit/verify", token).get_json()
    assert broken["ok"] is False
    assert broken["first_broken_seq"] == entry.seq
    kept = load_verification(settings.data_dir / VERIFICATION_FILE)
    assert kept is not None
    assert (kept.ok, kept.first_broken_seq) == (False, entry.seq)


# --------------------------------------------------------------------------- employees
def test_employees_are_searched_in_scope_and_a_detail_read_is_logged(
    api: Api,
    issue_token: Callable[..., str],
    create_account: Callable[..., Any],
    db: Session,
) -> None:
    from server.auth.models import account_departments
    from server.organization.models import Department

    north = Department(code="N", name="North")
    south = Department(code="S", name="South")
    db.add_all([north, south])
    db.flush()
    people = [
        Employee(
            employee_code=f"C{i:02d}",
            given_name="Ana" if i % 2 else "Rui",
            family_name="Lima",
            department_id=north.id if i < 5 else south.id,
        )
        for i in range(8)
    ]
    db.add_all(people)
    scoped = create_account(role="hr_viewer")
    db.execute(account_departments.insert().values(account_id=scoped.id, department_id=north.id))
    db.commit()
    everyone = issue_token("auditor")
    codes, cursor = [], None
    while True:
        url = "/employees?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(url, everyone).get_json()
        codes += [e["employee_code"] for e in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert codes == [f"C{i:02d}" for i in range(8)]
    assert [
        e["employee_code"] for e in api.get("/employees?q=ana", everyone).get_json()["items"]
    ] == [
        "C01",
        "C03",
        "C05",
        "C07",
    ]
    mine = issue_token(account=scoped)
    assert len(api.get("/employees", mine).get_json()["items"]) == 5
    outside = people[6]
    assert api.get(f"/employees/{outside.id}", mine).status_code == 404
    seen = api.get(f"/employees/{people[0].id}", mine)
    assert seen.status_code == 200
    assert "device_password" not in seen.get_data(as_text=True)
    viewed = db.scalars(
        select(AuditEvent.subject_employee_id).where(AuditEvent.action == "employee.viewed")
    ).all()
    assert viewed == [people[0].id]
