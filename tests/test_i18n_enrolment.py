# SPDX-License-Identifier: GPL-2.0-or-later
"""A consent-gate refusal of an enrolment at a terminal is named in the reader's words
(#6 review), as the employee and consent pages name it, never as its stored code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.devices.models import TerminalCommand
from server.employees.models import Employee
from tests.conftest import csrf_token

PASSWORD = "correct horse battery"


def test_an_enrolment_refused_by_the_consent_gate_says_why_in_the_readers_language(
    client: Any,
    db: Session,
    login: Callable[..., Any],
    create_account: Callable[..., Any],
    create_terminal: Callable[..., Any],
) -> None:
    db.add(Employee(employee_code="E100", given_name="Ana", family_name="Lopez"))
    terminal = create_terminal()
    account = create_account(role="hr_manager", password=PASSWORD)
    account.biometric_permission = True
    account.locale = "zh_CN"
    db.commit()
    assert login(account.username, PASSWORD).status_code == 302
    url = f"/terminals/{terminal.id}"
    token = csrf_token(client.get(url).get_data(as_text=True))
    # Biometrics are off by default: the consent gate refuses.
    refused = client.post(
        f"{url}/enrol",
        data={"employee": "E100", "finger": "3", "csrf_token": token},
        follow_redirects=True,
    )
    page = refused.get_data(as_text=True)
    assert "生物识别已在设置中关闭" in page
    assert "biometrics disabled" not in page
    assert "biometrics_disabled" not in page
    assert db.scalar(select(func.count()).select_from(TerminalCommand)) == 0
