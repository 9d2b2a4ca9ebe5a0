# SPDX-License-Identifier: GPL-2.0-or-later
"""Changing one's password, and the forced change after an administrator set it (#6)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.auth.models import Account
from server.auth.passwords import verify_password
from tests.conftest import csrf_token

OLD = "correct horse battery"
NEW = "a much longer new secret"


def change(client: Any, current: str, new: str, confirm: str | None = None) -> Any:
    token = csrf_token(client.get("/account/password").get_data(as_text=True))
    return client.post(
        "/account/password",
        data={"current": current, "new": new, "confirm": confirm or new, "csrf_token": token},
    )


def test_a_forced_change_opens_only_the_password_page_until_done(
    client: Any, login: Callable[[str, str], Any], create_account: Callable[..., Any], db: Session
) -> None:
    account = create_account(username="newhr", role="hr_manager")
    account.must_change_password = True
    db.commit()
    login("newhr", OLD)
    page = client.get("/")
    assert page.status_code == 302
    assert page.headers["Location"].endswith("/account/password")
    api = client.get("/api/v1/me", headers={"Accept": "application/json"})
    assert api.status_code == 403
    assert api.get_json()["error"] == "password_change_required"
    assert change(client, OLD, NEW).status_code == 302
    assert client.get("/").status_code == 200
    db.expire_all()
    changed = db.get(Account, account.id)
    assert changed is not None
    assert changed.must_change_password is False
    assert verify_password(changed.password_hash, NEW)
    details = db.scalars(
        select(AuditEvent.details).where(AuditEvent.action == "auth.password_changed")
    ).one()
    assert details == {"was_required": True}


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("wrong password!", NEW, NEW, "current password is not right"),
        (OLD, NEW, NEW + "x", "differ"),
        (OLD, "short", "short", "12 to 256"),
        (OLD, OLD, OLD, "other than the current"),
    ],
)
def test_a_bad_change_is_refused_and_the_password_stays(
    client: Any,
    login: Callable[[str, str], Any],
    create_account: Callable[..., Any],
    db: Session,
    current: str,
    new: str,
    confirm: str,
    message: str,
) -> None:
    account = create_account(username="someone", role="auditor")
    login("someone", OLD)
    response = change(client, current, new, confirm)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    db.expire_all()
    assert verify_password(db.get(Account, account.id).password_hash, OLD)  # type: ignore[union-attr]
