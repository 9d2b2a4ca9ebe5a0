# SPDX-License-Identifier: GPL-2.0-or-later
"""The operation log page (#6): filters, paging, and verification with anchors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.audit.services import Actor, read_anchors, record_event
from server.employees.models import Employee
from server.settings import Settings
from tests.conftest import csrf_token

PASSWORD = "correct horse battery"


@pytest.fixture
def auditor(
    client: Any, login: Callable[[str, str], Any], create_account: Callable[..., Any]
) -> Any:
    create_account(username="aud", role="auditor")
    login("aud", PASSWORD)
    return client


def test_an_auditor_filters_the_log_and_pages_back(auditor: Any, db: Session) -> None:
    e = Employee(employee_code="A55", given_name="Ana", family_name="Reis")
    db.add(e)
    db.flush()
    for i in range(130):
        record_event(db, "test.ping", actor=Actor.system("t"), details={"i": i})
    record_event(
        db,
        "employee.viewed",
        actor=Actor.system("t"),
        object_type="employee",
        object_id=e.id,
        subject_employee_id=e.id,
    )
    db.commit()
    first = auditor.get("/audit?action=test.").get_data(as_text=True)
    assert first.count("test.ping") == 100
    assert "i=129" in first
    assert "employee.viewed" not in first
    older = first.split('<div class="pager"><a href="')[1].split('"')[0].replace("&amp;", "&")
    second = auditor.get(older).get_data(as_text=True)
    assert second.count("test.ping") == 30
    assert "i=0<" in second
    assert "Older entries" not in second
    about = auditor.get("/audit?employee=A55").get_data(as_text=True)
    assert "employee.viewed" in about
    assert "test.ping" not in about
    assert "No employee has the code ZZ" in auditor.get("/audit?employee=ZZ").get_data(as_text=True)


def test_verification_records_an_anchor_and_finds_a_changed_entry(
    auditor: Any, db: Session, settings: Settings
) -> None:
    record_event(db, "test.one", actor=Actor.system("t"), details={"n": 1})
    db.commit()
    token = csrf_token(auditor.get("/audit").get_data(as_text=True))
    page = auditor.post("/audit/verify", data={"csrf_token": token}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "The operation log is intact" in text
    assert "Last verified" in text
    anchors = read_anchors(settings.data_dir / "audit-anchors.jsonl")
    assert len(anchors) == 1
    db.execute(update(AuditEvent).where(AuditEvent.action == "test.one").values(details={"n": 2}))
    db.commit()
    page = auditor.post("/audit/verify", data={"csrf_token": token}, follow_redirects=True)
    assert "NOT intact" in page.get_data(as_text=True)
    assert len(read_anchors(settings.data_dir / "audit-anchors.jsonl")) == 1


def test_hr_roles_cannot_read_the_log(
    client: Any, login: Callable[[str, str], Any], create_account: Callable[..., Any]
) -> None:
    create_account(username="hrm", role="hr_manager")
    login("hrm", PASSWORD)
    assert client.get("/audit").status_code == 403
    token = csrf_token(client.get("/").get_data(as_text=True))
    assert client.post("/audit/verify", data={"csrf_token": token}).status_code == 403
