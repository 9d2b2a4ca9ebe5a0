# SPDX-License-Identifier: GPL-2.0-or-later
"""The organization's settings page (#6): saved when valid, untouched when not, admin only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.organization.models import OrganizationSettings
from tests.conftest import csrf_token

PASSWORD = "correct horse battery"
GOOD = {
    "name": "Acme Ltd",
    "default_timezone": "Asia/Shanghai",
    "default_locale": "zh_CN",
    "jurisdiction": "pipl",
    "minor_age": "16",
    "consent_refusal_action": "report",
}


@pytest.fixture
def admin(client: Any, login: Callable[[str, str], Any], create_account: Callable[..., Any]) -> Any:
    create_account(username="root", role="admin")
    login("root", PASSWORD)
    return client


def save(client: Any, data: dict[str, str]) -> Any:
    token = csrf_token(client.get("/settings").get_data(as_text=True))
    return client.post("/settings", data={**data, "csrf_token": token}, follow_redirects=True)


def test_an_admin_saves_the_settings_and_the_change_is_logged(admin: Any, db: Session) -> None:
    page = save(admin, GOOD)
    assert page.status_code == 200
    db.expire_all()
    org = db.get(OrganizationSettings, 1)
    assert org is not None
    assert (org.name, org.default_timezone, org.jurisdiction, org.minor_age) == (
        "Acme Ltd",
        "Asia/Shanghai",
        "pipl",
        16,
    )
    fields = db.scalars(
        select(AuditEvent.details).where(AuditEvent.action == "organization.settings_changed")
    ).one()
    assert "jurisdiction" in fields["fields"]


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("default_timezone", "Mars/Olympus"),
        ("jurisdiction", "moon"),
        ("minor_age", "40"),
        ("name", ""),
        ("biometrics_enabled", "1"),  # no published notice yet
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(
    admin: Any, db: Session, field: str, bad: str
) -> None:
    save(admin, GOOD)
    page = save(admin, {**GOOD, "name": "Changed", field: bad})
    assert "flash-error" in page.get_data(as_text=True)
    db.expire_all()
    org = db.get(OrganizationSettings, 1)
    assert org is not None
    assert org.name == "Acme Ltd"
    assert org.biometrics_enabled is False


def test_only_an_admin_opens_the_settings(
    client: Any, login: Callable[[str, str], Any], create_account: Callable[..., Any]
) -> None:
    create_account(username="dpo", role="privacy_officer")
    login("dpo", PASSWORD)
    assert client.get("/settings").status_code == 403
