# SPDX-License-Identifier: GPL-2.0-or-later
"""Notices and consent in the browser: publish, record, withdraw with terminal progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.devices.models import Terminal
from server.employees.models import Employee
from server.organization.models import OrganizationSettings
from server.privacy.models import BiometricNotice, Consent
from terminals.base import Endpoint
from terminals.outbox import run_commands
from terminals.zk.client import ZkClient
from tests.conftest import csrf_token

PASSWORD = "correct horse battery"


@pytest.fixture
def officer(
    client: Any, login: Callable[[str, str], Any], create_account: Callable[..., Any], db: Session
) -> Any:
    db.add(OrganizationSettings(id=1, name="Org", default_timezone="UTC"))
    db.add(Employee(employee_code="C10", given_name="Cai", family_name="Wen"))
    db.commit()
    create_account(username="dpo", role="privacy_officer")
    login("dpo", PASSWORD)
    return client


def post(client: Any, url: str, data: dict[str, str], page: str) -> str:
    token = csrf_token(client.get(page).get_data(as_text=True))
    response = client.post(url, data={**data, "csrf_token": token}, follow_redirects=True)
    return str(response.get_data(as_text=True))


NOTICE = {"title": "Fingerprints", "body": "We keep templates.", "retention_schedule": "1 year"}


def test_publish_a_notice_record_consent_and_withdraw_it_everywhere(
    officer: Any, db: Session, simulator: Any, create_terminal: Callable[..., Terminal]
) -> None:
    sim = simulator.start("tft", empty=True)
    terminal = create_terminal(sim)
    consent_page = "/privacy/consent?employee=C10"
    refused = post(officer, "/privacy/consent/C10", {"method": "signed_paper"}, consent_page)
    assert "Publish a notice first" in refused
    post(officer, "/privacy/notices", NOTICE, "/privacy/notices")
    notice_id = db.scalar(select(BiometricNotice.id))
    page = post(officer, f"/privacy/notices/{notice_id}/publish", {}, "/privacy/notices")
    assert "Version 1 is published" in page
    again = post(officer, f"/privacy/notices/{notice_id}/publish", {}, "/privacy/notices")
    assert "already published" in again

    page = post(
        officer,
        "/privacy/consent/C10",
        {"method": "signed_paper", "evidence_ref": "scan-7", "given_by": "employee"},
        consent_page,
    )
    assert "Consent recorded." in page
    assert "Withdraw consent" in page

    page = post(officer, "/privacy/consent/C10/withdraw", {"method": "signed_paper"}, consent_page)
    assert "deletion queued for 1 terminal(s)" in page
    assert f"waiting for {sim.serial}" in page
    run_commands(
        db, terminal, ZkClient(Endpoint(host=sim.host, port=sim.port, timeout_s=3)), kek=None
    )
    assert "all 1" in officer.get(consent_page).get_data(as_text=True)


def test_a_guardian_consent_without_the_guardian_is_refused(officer: Any, db: Session) -> None:
    post(officer, "/privacy/notices", NOTICE, "/privacy/notices")
    notice_id = db.scalar(select(BiometricNotice.id))
    post(officer, f"/privacy/notices/{notice_id}/publish", {}, "/privacy/notices")
    page = post(
        officer,
        "/privacy/consent/C10",
        {"method": "signed_paper", "given_by": "guardian", "evidence_ref": "f-1"},
        "/privacy/consent?employee=C10",
    )
    assert "needs their name, relation and evidence" in page
    assert db.scalar(select(func.count()).select_from(Consent)) == 0


def test_an_auditor_reads_but_cannot_publish(
    client: Any, login: Callable[[str, str], Any], create_account: Callable[..., Any]
) -> None:
    create_account(username="aud", role="auditor")
    login("aud", PASSWORD)
    page = client.get("/privacy/notices")
    assert page.status_code == 200
    assert "New version" not in page.get_data(as_text=True)
    token = csrf_token(page.get_data(as_text=True))
    assert client.post("/privacy/notices", data={**NOTICE, "csrf_token": token}).status_code == 403
