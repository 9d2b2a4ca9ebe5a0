# SPDX-License-Identifier: GPL-2.0-or-later
"""Accounts administration (issue #6)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.auth.models import Account
from server.auth.passwords import verify_password
from server.auth.scope import assigned_departments

BASE = {"display_name": "Lin", "role": "hr_manager"}


def _actions(db: Session, account_id: int) -> list[str]:
    return list(
        db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "account", AuditEvent.object_id == str(account_id))
            .order_by(AuditEvent.seq)
        )
    )


@pytest.mark.parametrize("role", ["hr_manager", "hr_viewer", "privacy_officer", "auditor"])
def test_only_administrators_open_the_accounts_pages(
    client: Any, sign_in: Callable[..., Any], post: Callable[..., Any], role: str, db: Session
) -> None:
    me = sign_in(role)
    assert client.get("/accounts").status_code == 403
    assert post("/accounts/new", {**BASE, "username": "lin"}).status_code == 403
    assert post(f"/accounts/{me.id}/reset-password").status_code == 403
    assert 'href="/accounts"' not in client.get("/").get_data(as_text=True)  # not in the nav
    assert db.scalar(select(Account).where(Account.username == "lin")) is None


def test_an_administrator_creates_a_scoped_account_with_a_generated_password(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
) -> None:
    sign_in("admin")
    assert 'href="/accounts"' in client.get("/").get_data(as_text=True)
    response = post(
        "/accounts/new",
        {
            **BASE,
            "username": "lin",
            "department_ids": [str(org["plant"].id)],
            "biometric_permission": "y",
        },
        page="/accounts/new",
    )
    assert response.status_code == 200
    shown = re.search(r'id="new-password">([^<]+)<', response.get_data(as_text=True))
    assert shown
    lin = db.scalar(select(Account).where(Account.username == "lin"))
    assert lin is not None
    assert verify_password(lin.password_hash, shown.group(1))
    assert lin.password_hash.startswith("$argon2id$")
    assert lin.must_change_password
    assert lin.biometric_permission
    assert assigned_departments(db, lin.id) == [org["plant"].id]
    assert _actions(db, lin.id) == ["account.created", "account.access_changed"]
    assert shown.group(1) not in str(db.scalars(select(AuditEvent.details)).all())


def test_a_bad_account_form_changes_nothing(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    db: Session,
) -> None:
    sign_in("admin")
    for extra, message in (
        ({"role": "hr_viewer", "biometric_permission": "y"}, "Only HR managers hold"),
        ({"role": "auditor", "department_ids": [str(org["plant"].id)]}, "Only HR managers and"),
        ({"username": "Not Valid!"}, "a username has"),
        ({"password": "short"}, "Field must be between"),
    ):
        response = post("/accounts/new", {**BASE, "username": "lin", **extra}, page="/accounts/new")
        assert response.status_code == 422, extra
        assert message in response.get_data(as_text=True)
    assert db.scalar(select(Account).where(Account.username.in_(["lin", "not valid!"]))) is None


def test_changing_role_scope_and_permission_is_audited(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    org: dict[str, Any],
    create_account: Callable[..., Any],
    db: Session,
) -> None:
    sign_in("admin")
    other = create_account(role="hr_manager", display_name="Lin")
    response = post(
        f"/accounts/{other.id}",
        {"display_name": "Lin", "role": "hr_viewer", "department_ids": [str(org["office"].id)]},
        page=f"/accounts/{other.id}",
    )
    assert response.status_code == 302
    db.expire_all()
    assert db.get(Account, other.id).role == "hr_viewer"  # type: ignore[union-attr]
    assert assigned_departments(db, other.id) == [org["office"].id]
    [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "account.access_changed"))
    assert event.details["previous_role"] == "hr_manager"
    assert event.details["departments"] == str(org["office"].id)


def test_an_administrator_cannot_lock_themselves_or_everyone_out(
    client: Any, sign_in: Callable[..., Any], post: Callable[..., Any], db: Session
) -> None:
    me = sign_in("admin")
    for admin in db.scalars(select(Account).where(Account.role == "admin", Account.id != me.id)):
        admin.active = False  # this test's admin is the only active one
    db.commit()
    assert post(f"/accounts/{me.id}/deactivate", page="/accounts").status_code == 302
    demote = post(f"/accounts/{me.id}", {"display_name": "Me", "role": "auditor"}, page="/accounts")
    assert demote.status_code == 422
    assert "You cannot remove your own administrator role." in demote.get_data(as_text=True)
    db.expire_all()
    assert db.get(Account, me.id).active  # type: ignore[union-attr]
    assert db.get(Account, me.id).role == "admin"  # type: ignore[union-attr]


def test_the_last_administrator_stays(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    create_account: Callable[..., Any],
    db: Session,
) -> None:
    # With a second active administrator, either may be deactivated or demoted.
    me = sign_in("admin")
    for admin in db.scalars(select(Account).where(Account.role == "admin", Account.id != me.id)):
        admin.active = False
    other = create_account(role="admin")
    db.commit()
    assert post(f"/accounts/{other.id}/deactivate", page="/accounts").status_code == 302
    db.expire_all()
    assert not db.get(Account, other.id).active  # type: ignore[union-attr]
    assert _actions(db, other.id)[-1] == "account.deactivated"
    assert post(f"/accounts/{other.id}/activate", page="/accounts").status_code == 302
    assert (
        post(
            f"/accounts/{other.id}", {"display_name": "X", "role": "auditor"}, page="/accounts"
        ).status_code
        == 302
    )


def test_a_password_reset_is_shown_once_and_forces_a_change(
    client: Any,
    sign_in: Callable[..., Any],
    post: Callable[..., Any],
    create_account: Callable[..., Any],
    db: Session,
) -> None:
    sign_in("admin")
    other = create_account(role="hr_viewer")
    other.locked_until = None
    other.failed_logins = 3
    db.commit()
    response = post(f"/accounts/{other.id}/reset-password", page="/accounts")
    assert response.status_code == 200
    shown = re.search(r'id="new-password">([^<]+)<', response.get_data(as_text=True))
    assert shown
    db.expire_all()
    refreshed = db.get(Account, other.id)
    assert refreshed is not None
    assert verify_password(refreshed.password_hash, shown.group(1))
    assert refreshed.must_change_password
    assert refreshed.failed_logins == 0
    assert _actions(db, other.id)[-1] == "account.password_reset"
    assert client.get("/accounts").status_code == 200
