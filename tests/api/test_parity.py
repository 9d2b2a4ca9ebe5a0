# SPDX-License-Identifier: GPL-2.0-or-later
"""What the pages offer, over the API too (issue #6): employees created, edited and
terminated, the department and area trees, manual punches, the operation log, the
dashboard, adding and testing terminals. Each with its happy path, bad input that changes
nothing, read-only tokens and HR viewers refused on writes, and the department scope."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from biometrics.keys import generate_key_file
from server.attendance.entries import PunchEntry
from server.attendance.models import Punch
from server.audit.models import AuditEvent
from server.auth.models import account_departments
from server.db import utcnow
from server.devices.models import Terminal, TerminalCommand
from server.employees.models import Employee, employee_areas
from server.organization.models import Area, Department
from server.settings import Settings, system_timezone
from tests.api.conftest import Api


@dataclass
class Org:
    north: Department
    north_east: Department  # below North
    south: Department
    gate: Area
    ana: Employee  # North
    bo: Employee  # North East
    cy: Employee  # South
    scoped: str  # a read-write token of an HR manager limited to North
    manager: str  # an unrestricted HR manager's read-write token


@pytest.fixture
def org(db: Session, issue_token: Callable[..., str], create_account: Callable[..., Any]) -> Org:
    north = Department(code="N", name="North")
    south = Department(code="S", name="South")
    db.add_all([north, south])
    db.flush()
    north_east = Department(code="NE", name="North East", parent_id=north.id)
    gate = Area(code="G", name="Gate")
    db.add_all([north_east, gate])
    db.flush()
    ana = Employee(
        employee_code="A1",
        given_name="Ana",
        family_name="Lima",
        department_id=north.id,
        hire_date=date(2024, 1, 8),
    )
    bo = Employee(employee_code="B2", given_name="Bo", family_name="Chen")
    bo.department_id = north_east.id
    cy = Employee(employee_code="C3", given_name="Cy", family_name="Ode", department_id=south.id)
    db.add_all([ana, bo, cy])
    db.flush()
    db.execute(employee_areas.insert().values(employee_id=bo.id, area_id=gate.id))
    account = create_account(role="hr_manager")
    db.execute(account_departments.insert().values(account_id=account.id, department_id=north.id))
    db.commit()
    return Org(
        north,
        north_east,
        south,
        gate,
        ana,
        bo,
        cy,
        scoped=issue_token(account=account),
        manager=issue_token("hr_manager"),
    )


def count(db: Session, model: Any, *where: Any) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def events(db: Session, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(
        db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq))
    )


def assert_error(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"error", "message", "details"}
    assert body["error"] == code
    assert body["message"]
    if field is not None:
        assert body["details"]["field"] == field


# --------------------------------------------------------------------------- employees
NEW = {
    "employee_code": "D4",
    "given_name": "Dee",
    "family_name": "Park",
    "device_name": "DEE",
    "hire_date": "2026-02-02",
    "date_of_birth": "1990-05-17",
    "email": "dee@example.org",
    "phone": "+86 10 5555 0100",
    "locale": "zh_CN",
    "verify_mode": "pin",
    "card_number": "0012345",
    "device_privilege": 0,
}


def test_an_hr_manager_adds_an_employee_with_every_field_of_the_form(
    api: Api, org: Org, db: Session
) -> None:
    response = api.post("/employees", org.manager, json={**NEW, "department_id": org.south.id})
    assert response.status_code == 201, response.get_json()
    made = response.get_json()
    assert made["status"] == "active"
    assert made["department_id"] == org.south.id
    assert (made["hire_date"], made["date_of_birth"]) == ("2026-02-02", "1990-05-17")
    assert (made["email"], made["locale"], made["verify_mode"]) == (
        "dee@example.org",
        "zh_CN",
        "pin",
    )
    assert made["area_ids"] == []
    created = events(db, "employee.created")
    assert [e.subject_employee_id for e in created] == [made["id"]]
    assert "Dee" not in str(created[0].details)  # identifiers only
    detail = api.get(f"/employees/{made['id']}", org.manager).get_json()
    assert detail == made


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"family_name": None}, 422, "family_name"),
        ({"employee_code": "has space"}, 422, "employee_code"),
        ({"card_number": "12a"}, 422, "card_number"),
        ({"email": "not-an-address"}, 422, "email"),
        ({"hire_date": "2026-13-01"}, 422, "hire_date"),
        ({"device_privilege": 3}, 422, "device_privilege"),
        ({"department_id": 999_999}, 422, "department_id"),
        ({"salary": 1}, 422, "salary"),
        ({"employee_code": "A1"}, 409, "employee_code"),  # Ana's
    ],
)
def test_bad_employee_input_is_refused_and_adds_nobody(
    api: Api, org: Org, db: Session, change: dict[str, Any], status: int, field: str
) -> None:
    before = count(db, Employee)
    body = {k: v for k, v in {**NEW, **change}.items() if v is not None}
    response = api.post("/employees", org.manager, json=body)
    assert_error(response, status, "invalid" if status == 422 else "conflict", field)
    assert count(db, Employee) == before
    assert events(db, "employee.created") == []


def test_an_edit_changes_only_the_fields_given_and_logs_their_names(
    api: Api, org: Org, db: Session
) -> None:
    response = api.call(
        "PATCH",
        f"/employees/{org.ana.id}",
        org.manager,
        json={"given_name": "Anna", "email": "anna@example.org", "phone": None},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["given_name"], body["family_name"], body["email"]) == (
        "Anna",
        "Lima",
        "anna@example.org",
    )
    updated = events(db, "employee.updated")
    assert [e.details for e in updated] == [{"fields": "email,given_name"}]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 422, ""),
        ({"email": "nope"}, 422, "email"),
        ({"given_name": ""}, 422, "given_name"),
        ({"date_of_birth": "17/05/1990"}, 422, "date_of_birth"),
        ({"employee_code": "C3"}, 409, "employee_code"),  # Cy's
    ],
)
def test_a_bad_edit_changes_nothing(
    api: Api, org: Org, db: Session, body: dict[str, Any], status: int, field: str
) -> None:
    response = api.call("PATCH", f"/employees/{org.ana.id}", org.manager, json=body)
    assert_error(response, status, "invalid" if status == 422 else "conflict", field)
    db.expire_all()
    ana = db.get(Employee, org.ana.id)
    assert ana is not None
    assert (ana.employee_code, ana.given_name, ana.email, ana.date_of_birth) == (
        "A1",
        "Ana",
        None,
        None,
    )
    assert events(db, "employee.updated") == []


def test_termination_ends_the_employment_once_and_keeps_the_dates_in_order(
    api: Api, org: Org, db: Session
) -> None:
    url = f"/employees/{org.ana.id}/terminate"
    assert_error(api.post(url, org.manager, json={}), 422, "invalid", "termination_date")
    early = api.post(url, org.manager, json={"termination_date": "2023-12-31"})
    assert_error(early, 422, "invalid", "termination_date")  # before the hire date
    assert_error(
        api.post(url, org.manager, json={"termination_date": "31.12.2026"}),
        422,
        "invalid",
        "termination_date",
    )
    db.expire_all()
    assert db.get(Employee, org.ana.id).status == "active"  # type: ignore[union-attr]
    done = api.post(url, org.manager, json={"termination_date": "2026-03-31"})
    assert done.status_code == 200, done.get_json()
    assert (done.get_json()["status"], done.get_json()["termination_date"]) == (
        "terminated",
        "2026-03-31",
    )
    assert [e.details for e in events(db, "employee.terminated")] == [{"on": "2026-03-31"}]
    again = api.post(url, org.manager, json={"termination_date": "2026-04-30"})
    assert_error(again, 409, "conflict")
    assert len(events(db, "employee.terminated")) == 1


def test_the_list_filters_by_department_with_those_below_it_by_area_and_by_status(
    api: Api, org: Org, issue_token: Callable[..., str], db: Session
) -> None:
    org.cy.status = "terminated"
    db.commit()
    token = issue_token("auditor", read_only=True)

    def codes(query: str) -> list[str]:
        response = api.get(f"/employees?{query}", token)
        assert response.status_code == 200, response.get_json()
        return [e["employee_code"] for e in response.get_json()["items"]]

    assert codes(f"department_id={org.north.id}") == ["A1", "B2"]
    assert codes(f"department_id={org.north_east.id}") == ["B2"]
    assert codes(f"area_id={org.gate.id}") == ["B2"]
    assert codes("status=terminated") == ["C3"]
    assert codes(f"department_id={org.north.id}&status=terminated") == []
    assert_error(api.get("/employees?department_id=north", token), 422, "invalid")


def test_a_scoped_hr_manager_neither_sees_nor_changes_another_departments_employee(
    api: Api, org: Org, db: Session
) -> None:
    cy = f"/employees/{org.cy.id}"
    assert_error(api.get(cy, org.scoped), 404, "not_found")
    assert_error(api.call("PATCH", cy, org.scoped, json={"given_name": "X"}), 404, "not_found")
    assert_error(
        api.post(f"{cy}/terminate", org.scoped, json={"termination_date": "2026-03-31"}),
        404,
        "not_found",
    )
    # Nor moves their own people there, nor places new people outside their departments.
    moved = api.call(
        "PATCH", f"/employees/{org.ana.id}", org.scoped, json={"department_id": org.south.id}
    )
    assert_error(moved, 422, "invalid", "department_id")
    unplaced = api.call(
        "PATCH", f"/employees/{org.ana.id}", org.scoped, json={"department_id": None}
    )
    assert_error(unplaced, 422, "invalid", "department_id")
    outside = api.post("/employees", org.scoped, json={**NEW, "department_id": org.south.id})
    assert_error(outside, 422, "invalid", "department_id")
    assert_error(api.post("/employees", org.scoped, json=NEW), 422, "invalid", "department_id")
    db.expire_all()
    assert db.get(Employee, org.cy.id).given_name == "Cy"  # type: ignore[union-attr]
    assert db.get(Employee, org.ana.id).department_id == org.north.id  # type: ignore[union-attr]
    assert count(db, Employee) == 3
    listed = api.get("/employees", org.scoped).get_json()["items"]
    assert [e["employee_code"] for e in listed] == ["A1", "B2"]
    # Within their departments (those below included) they do what the pages let them.
    inside = api.post("/employees", org.scoped, json={**NEW, "department_id": org.north_east.id})
    assert inside.status_code == 201, inside.get_json()
    edited = api.call("PATCH", f"/employees/{org.bo.id}", org.scoped, json={"given_name": "Bob"})
    assert edited.status_code == 200


# --------------------------------------------------------------------------- who may write
def _writes(org: Org, terminal_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("POST", "/employees", NEW),
        ("PATCH", f"/employees/{org.ana.id}", {"given_name": "X"}),
        ("POST", f"/employees/{org.ana.id}/terminate", {"termination_date": "2026-03-31"}),
        (
            "POST",
            "/punches",
            {
                "employee_id": org.ana.id,
                "occurred_at": "2026-03-02T08:00:00+00:00",
                "punch_state": 0,
                "reason": "forgot_to_punch",
            },
        ),
        ("POST", "/terminals", {"address": "127.0.0.1", "port": 9}),
        ("POST", f"/terminals/{terminal_id}/test", {}),
    ]


@pytest.mark.parametrize(
    ("role", "read_only"),
    [("hr_manager", True), ("admin", True), ("hr_viewer", False), ("auditor", False)],
)
def test_read_only_tokens_and_read_only_roles_are_refused_every_write(
    api: Api,
    org: Org,
    db: Session,
    issue_token: Callable[..., str],
    create_terminal: Callable[..., Any],
    role: str,
    read_only: bool,
) -> None:
    terminal = create_terminal()
    token = issue_token(role, read_only=read_only)
    seq = db.scalar(select(func.max(AuditEvent.seq)))
    for method, path, body in _writes(org, terminal.id):
        response = api.call(method, path, token, json=body)
        assert_error(response, 403, "forbidden")
    assert count(db, Employee) == 3
    assert count(db, Punch) == 0
    assert count(db, Terminal) == 1
    db.expire_all()
    assert db.get(Employee, org.ana.id).given_name == "Ana"  # type: ignore[union-attr]
    # Nothing but the refusals' own entries (a refused token is logged, #6).
    later = db.scalars(select(AuditEvent.action).where(AuditEvent.seq > (seq or 0))).all()
    assert not [a for a in later if not a.startswith("api_token.")]


def test_an_hr_manager_may_not_add_terminals(
    api: Api, org: Org, db: Session, simulator: Any
) -> None:
    sim = simulator.start(users=1, records=1)
    response = api.post("/terminals", org.manager, json={"address": "127.0.0.1", "port": sim.port})
    assert_error(response, 403, "forbidden")
    assert count(db, Terminal) == 0


# --------------------------------------------------------------------------- organization
def test_departments_come_as_a_tree_in_order_with_counts_only_within_scope(
    api: Api, org: Org, issue_token: Callable[..., str]
) -> None:
    items = api.get("/departments", issue_token("auditor", read_only=True)).get_json()["items"]
    assert [(d["code"], d["depth"], d["employee_count"]) for d in items] == [
        ("N", 0, 1),
        ("NE", 1, 1),
        ("S", 0, 1),
    ]
    assert items[1]["parent_id"] == org.north.id
    scoped = api.get("/departments", org.scoped).get_json()["items"]
    assert [(d["code"], d["employee_count"]) for d in scoped] == [
        ("N", 1),
        ("NE", 1),
        ("S", None),
    ]
    assert_error(api.get("/departments?parent=1", org.scoped), 422, "invalid")


def test_areas_come_as_a_tree_with_their_people_and_terminals(
    api: Api, org: Org, db: Session, issue_token: Callable[..., str], create_terminal: Any
) -> None:
    inner = Area(code="G1", name="Gate one", parent_id=org.gate.id)
    db.add(inner)
    db.commit()
    create_terminal(area_id=inner.id)
    items = api.get("/areas", issue_token("hr_viewer", read_only=True)).get_json()["items"]
    assert [
        (a["code"], a["depth"], a["parent_id"], a["employee_count"], a["terminal_count"])
        for a in items
    ] == [("G", 0, None, 1, 0), ("G1", 1, org.gate.id, 0, 1)]
    assert_error(api.get("/areas?depth=1", org.scoped), 422, "invalid", "depth")


# --------------------------------------------------------------------------- manual punches
def _punch(employee: Employee, **over: Any) -> dict[str, Any]:
    return {
        "employee_id": employee.id,
        "occurred_at": (utcnow() - timedelta(hours=2)).replace(microsecond=0).isoformat(),
        "punch_state": 0,
        "reason": "terminal_fault",
        **over,
    }


def test_a_manual_punch_is_entered_with_its_reason_and_logged_without_its_note(
    api: Api, org: Org, db: Session
) -> None:
    body = _punch(org.ana, reason="other", note="Badge reader at the loading bay broke")
    response = api.post("/punches", org.manager, json=body)
    assert response.status_code == 201, response.get_json()
    made = response.get_json()
    assert (made["source"], made["terminal_serial"], made["employee_id"]) == (
        "manual",
        "manual",
        org.ana.id,
    )
    assert made["occurred_at"].startswith(body["occurred_at"][:19])
    entry = db.get(PunchEntry, made["id"])
    assert entry is not None
    assert (entry.reason, entry.note) == ("other", "Badge reader at the loading bay broke")
    logged = events(db, "punch.manual_entered")
    assert [e.details for e in logged] == [{"reason": "other", "state": 0, "note": True}]
    assert "loading bay" not in str(logged[0].details)
    listed = api.get(f"/punches?employee_id={org.ana.id}", org.manager).get_json()["items"]
    assert [p["id"] for p in listed] == [made["id"]]
    # The same second again: a conflict, and still one punch.
    assert_error(api.post("/punches", org.manager, json=body), 409, "conflict", "occurred_at")
    assert count(db, Punch) == 1


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"occurred_at": "2099-01-01T08:00:00+00:00"}, "occurred_at"),  # the future
        ({"occurred_at": "2026-03-02T08:00:00"}, "occurred_at"),  # no offset
        ({"reason": "other"}, "note"),  # other, without saying why
        ({"reason": "because"}, "reason"),
        ({"punch_state": 255}, "punch_state"),
        ({"employee_id": 999_999}, "employee_id"),
    ],
)
def test_a_bad_manual_punch_adds_nothing(
    api: Api, org: Org, db: Session, over: dict[str, Any], field: str
) -> None:
    response = api.post("/punches", org.manager, json=_punch(org.ana, **over))
    assert_error(response, 422, "invalid", field)
    assert count(db, Punch) == 0
    assert events(db, "punch.manual_entered") == []


def test_a_scoped_hr_manager_enters_punches_only_for_their_departments(
    api: Api, org: Org, db: Session
) -> None:
    outside = api.post("/punches", org.scoped, json=_punch(org.cy))
    assert_error(outside, 422, "invalid", "employee_id")
    assert "Cy" not in outside.get_data(as_text=True)
    assert count(db, Punch) == 0
    assert api.post("/punches", org.scoped, json=_punch(org.bo)).status_code == 201


# --------------------------------------------------------------------------- operation log
def test_the_operation_log_pages_newest_first_and_filters(
    api: Api, org: Org, db: Session, issue_token: Callable[..., str]
) -> None:
    for name in ("Anna", "Annie", "Anya"):
        api.call("PATCH", f"/employees/{org.ana.id}", org.manager, json={"given_name": name})
    token = issue_token("auditor", read_only=True)
    total = count(db, AuditEvent)
    seqs: list[int] = []
    cursor = None
    while True:
        url = "/audit/events?limit=4" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(url, token).get_json()
        seqs += [e["seq"] for e in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seqs) == total  # reading the log writes nothing to it
    assert seqs == sorted(seqs, reverse=True)
    assert len(set(seqs)) == len(seqs)
    edits = api.get("/audit/events?action=employee.up", token).get_json()["items"]
    assert [e["action"] for e in edits] == ["employee.updated"] * 3
    assert {e["subject_employee_id"] for e in edits} == {org.ana.id}
    assert all(e["details"] == {"fields": "given_name"} for e in edits)
    assert "Anya" not in str(edits)  # identifiers only, as stored
    about = api.get(
        f"/audit/events?object_type=employee&object_id={org.ana.id}&limit=2", token
    ).get_json()
    assert [e["action"] for e in about["items"]] == ["employee.updated"] * 2
    assert about["next_cursor"] is not None
    assert_error(api.get("/audit/events?cursor=bm9wZQ", token), 422, "invalid", "cursor")
    assert_error(api.get("/audit/events?from=yesterday", token), 422, "invalid", "from")
    assert_error(api.get("/audit/events", org.manager), 403, "forbidden")
    assert api.get("/audit/events", issue_token("privacy_officer")).status_code == 200


# --------------------------------------------------------------------------- dashboard
def test_the_dashboard_has_the_pages_figures_and_names_only_for_hr(
    api: Api,
    org: Org,
    db: Session,
    issue_token: Callable[..., str],
    create_terminal: Callable[..., Any],
) -> None:
    now = utcnow().replace(microsecond=0) - timedelta(seconds=1)
    for e in (org.ana, org.cy):
        db.add(
            Punch(
                terminal_serial="T1",
                pin=e.employee_code,
                employee_id=e.id,
                device_time=now.replace(tzinfo=None),
                occurred_at=now,
                timezone="UTC",
                punch_state=0,
            )
        )
    create_terminal(last_seen_at=utcnow(), consecutive_failures=3)
    create_terminal(enabled=True)
    db.commit()
    board = api.get("/dashboard", org.manager).get_json()
    assert board["punches_today"] == 2
    assert board["present_count"] == 2
    assert board["present"] is not None
    assert {p["employee_code"] for p in board["present"]} == {"A1", "C3"}
    assert board["terminals"]["total"] == 2
    assert board["terminals"]["online"] + board["terminals"]["offline"] == 2
    assert len(board["alerts"]["failing"]) == 1
    assert board["alerts"]["overdue_requests"] is None  # HR cannot open the register
    assert len(board["per_hour"]) in (23, 24, 25)
    assert len(board["per_day"]) == 14
    assert sum(b["count"] for b in board["per_day"]) >= 2
    # The auditor gets the count without names; the privacy officer sees request deadlines.
    auditor = api.get("/dashboard", issue_token("auditor", read_only=True)).get_json()
    assert (auditor["present_count"], auditor["present"]) == (2, None)
    assert "Ana" not in str(auditor)
    officer = api.get("/dashboard", issue_token("privacy_officer")).get_json()
    assert officer["alerts"]["overdue_requests"] == 0
    # A scoped manager sees their departments' people only.
    mine = api.get("/dashboard", org.scoped).get_json()
    assert mine["present_count"] == 1
    assert [p["employee_code"] for p in mine["present"]] == ["A1"]
    assert_error(api.get("/dashboard?day=today", org.scoped), 422, "invalid")


# --------------------------------------------------------------------------- terminals
def test_an_admin_adds_a_terminal_whose_comm_key_is_sealed_and_never_echoed(
    api: Api,
    org: Org,
    db: Session,
    settings: Settings,
    simulator: Any,
    issue_token: Callable[..., str],
) -> None:
    settings.key_file.parent.mkdir(mode=0o700)
    generate_key_file(settings.key_file)
    sim = simulator.start(users=3, records=10, comm_key=4321)
    admin = issue_token("admin")
    response = api.post(
        "/terminals",
        admin,
        json={
            "address": "127.0.0.1",
            "port": sim.port,
            "comm_key": 4321,
            "name": "Front door",
            "timezone": system_timezone(),
            "area_id": org.gate.id,
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["created"] is True
    made = body["terminal"]
    assert (made["serial_number"], made["name"], made["port"]) == (
        sim.serial,
        "Front door",
        sim.port,
    )
    assert (made["area_id"], made["comm_key_set"]) == (org.gate.id, True)
    assert "4321" not in response.get_data(as_text=True)
    terminal = db.get(Terminal, made["id"])
    assert terminal is not None
    assert terminal.comm_key_sealed is not None
    assert b"4321" not in terminal.comm_key_sealed
    assert [e.object_id for e in events(db, "terminal.registered")] == [str(terminal.id)]
    assert count(db, TerminalCommand, TerminalCommand.terminal_id == terminal.id) == 1
    again = api.post(
        "/terminals", admin, json={"address": "127.0.0.1", "port": sim.port, "comm_key": 4321}
    )
    assert_error(again, 409, "conflict")  # already registered there
    assert "4321" not in again.get_data(as_text=True)
    assert count(db, Terminal) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"address": "bad host!"}, "address"),
        ({"address": "127.0.0.1", "port": 99_999}, "port"),
        ({"address": "127.0.0.1", "comm_key": "12ab"}, "comm_key"),
        ({"address": "127.0.0.1", "timezone": "Mars/Olympus"}, "timezone"),
        ({"address": "127.0.0.1", "transport": "carrier-pigeon"}, "transport"),
        ({"address": "127.0.0.1", "area_id": 999_999}, "area_id"),
        # No instance key here: a comm key could not be stored safely.
        ({"address": "127.0.0.1", "comm_key": 4321}, "comm_key"),
    ],
)
def test_bad_terminal_details_are_refused_and_nothing_is_added(
    api: Api, db: Session, issue_token: Callable[..., str], body: dict[str, Any], field: str
) -> None:
    response = api.post("/terminals", issue_token("admin"), json=body)
    assert_error(response, 422, "invalid", field)
    assert "4321" not in response.get_data(as_text=True)
    assert count(db, Terminal) == 0
    assert events(db, "terminal.registered") == []


def test_a_terminal_that_does_not_answer_is_not_added(
    api: Api, db: Session, simulator: Any, issue_token: Callable[..., str]
) -> None:
    sim = simulator.start(users=1, records=1)
    port = sim.port
    sim.stop()
    response = api.post(
        "/terminals", issue_token("admin"), json={"address": "127.0.0.1", "port": port}
    )
    assert_error(response, 502, "terminal_error", "address")
    assert count(db, Terminal) == 0


def test_testing_a_connection_reports_what_answered_and_is_logged(
    api: Api,
    db: Session,
    simulator: Any,
    create_terminal: Callable[..., Any],
    issue_token: Callable[..., str],
) -> None:
    sim = simulator.start(users=4, records=25)
    terminal = create_terminal(sim)
    token = issue_token("hr_manager")
    report = api.post(f"/terminals/{terminal.id}/test", token).get_json()
    assert (report["ok"], report["serial_number"], report["records"], report["users"]) == (
        True,
        sim.serial,
        25,
        4,
    )
    assert report["error"] is None
    sim.stop()
    failed = api.post(f"/terminals/{terminal.id}/test", token)
    assert failed.status_code == 200
    assert failed.get_json()["ok"] is False
    assert failed.get_json()["error"]
    assert [e.details["ok"] for e in events(db, "terminal.connection_tested")] == [True, False]
    assert_error(api.post("/terminals/999999/test", token), 404, "not_found")
