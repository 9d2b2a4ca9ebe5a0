# SPDX-License-Identifier: GPL-2.0-or-later
"""The operation log page (#6): filters, paging, and verification with anchors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.audit.services import (
    VERIFICATION_FILE,
    Actor,
    ChainReport,
    load_verification,
    read_anchors,
    record_event,
    save_verification,
)
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


def _verify(client: Any) -> None:
    token = csrf_token(client.get("/audit").get_data(as_text=True))
    page = client.post("/audit/verify", data={"csrf_token": token}, follow_redirects=True)
    assert page.status_code == 200  # and its one-time message is shown (and gone)


def _status(client: Any) -> str:
    """The verification status on a fresh load of the page (no flash message)."""
    page = client.get("/audit").get_data(as_text=True)
    assert 'class="flashes"' not in page
    return page.split('id="last-verified"', 1)[1].split("</p>", 1)[0]


def test_a_failed_verification_stays_shown_until_a_later_one_passes(
    auditor: Any, db: Session, settings: Settings
) -> None:
    record_event(db, "test.one", actor=Actor.system("t"), details={"n": 1})
    record_event(db, "test.two", actor=Actor.system("t"), details={"n": 2})
    db.commit()
    assert "Never verified" in _status(auditor)
    written = db.scalar(select(func.count()).select_from(AuditEvent))
    _verify(auditor)
    ok = _status(auditor)
    assert "Intact" in ok
    assert f"by aud: {written} entries intact" in ok
    seq = db.scalar(select(AuditEvent.seq).where(AuditEvent.action == "test.two"))
    db.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(details={"n": 3}))
    db.commit()
    assert "Intact" in _status(auditor)  # nothing says otherwise until someone checks
    _verify(auditor)
    for _ in range(2):  # not a one-time message: every load of the page shows it
        failed = _status(auditor)
        assert "NOT intact" in failed
        assert f"found entry {seq} broken: entry altered" in failed
        assert f"/audit?before={seq + 1}" in failed
    # entries written since do not change it
    record_event(db, "test.three", actor=Actor.system("t"))
    db.commit()
    assert "NOT intact" in _status(auditor)
    db.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(details={"n": 2}))
    db.commit()
    _verify(auditor)
    again = _status(auditor)
    assert "Intact" in again
    assert "NOT intact" not in again
    kept = load_verification(settings.data_dir / VERIFICATION_FILE)
    assert kept is not None
    assert kept.ok
    assert kept.anchor_seq == kept.entries + 1  # the anchor covers the check's own entry


def test_a_check_from_the_command_line_shows_on_the_page(
    auditor: Any, db: Session, settings: Settings
) -> None:
    record_event(db, "test.one", actor=Actor.system("t"))
    db.commit()
    save_verification(
        settings.data_dir / VERIFICATION_FILE,
        ChainReport(False, 4, 5, "entry missing"),
        actor=Actor.system("cli"),
    )
    status = _status(auditor)
    assert "NOT intact" in status
    assert "by cli found entry 5 broken: entry missing" in status


def test_a_damaged_verification_result_is_reported(auditor: Any, settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / VERIFICATION_FILE).write_text("{not json", encoding="utf-8")
    status = _status(auditor)
    assert "cannot be read" in status


def test_unreadable_anchors_fail_the_check_and_stay_shown(auditor: Any, settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "audit-anchors.jsonl").write_text("cut\n", encoding="utf-8")
    _verify(auditor)
    status = _status(auditor)
    assert "NOT intact" in status
    assert "failed: The anchors cannot be read" in status


def test_each_entry_shows_its_address_and_browser(auditor: Any, db: Session) -> None:
    agent = "Mozilla/5.0 (X11; Linux x86_64) AuditProbe/7.1 " + "x" * 120
    record_event(
        db, "test.client", actor=Actor("account", None, "198.51.100.23", agent), details={}
    )
    db.commit()
    page = auditor.get("/audit?action=test.client").get_data(as_text=True)
    row = page.split("<td>test.client</td>", 1)[1].split("</tr>", 1)[0]
    assert "198.51.100.23" in row
    assert "Mozilla/5.0 (X11; Linux x86_64) AuditProbe/7.1" in row  # shown, shortened
    assert f'title="{agent}"' in row  # the whole of it on hover
    # the auditor's own visit is logged with their browser too
    seen = db.scalar(select(AuditEvent.user_agent).where(AuditEvent.action == "auth.signed_in"))
    assert seen is not None
    assert seen in auditor.get("/audit").get_data(as_text=True)


def test_hr_roles_cannot_read_the_log(
    client: Any, login: Callable[[str, str], Any], create_account: Callable[..., Any]
) -> None:
    create_account(username="hrm", role="hr_manager")
    login("hrm", PASSWORD)
    assert client.get("/audit").status_code == 403
    token = csrf_token(client.get("/").get_data(as_text=True))
    assert client.post("/audit/verify", data={"csrf_token": token}).status_code == 403
