# SPDX-License-Identifier: GPL-2.0-or-later
"""Managing API tokens: the account's page and ``rollcall tokens`` (issue #6)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.api.models import ApiToken
from tests.api.conftest import PASSWORD
from tests.conftest import csrf_token, run

_TOKEN = re.compile(r'<code class="token" id="new-token">(rc_r[ow]_[A-Za-z0-9_-]+)</code>')


def test_an_account_creates_a_token_seen_once_and_revokes_it(
    client: Any, login: Callable[..., Any], create_account: Callable[..., Any], db: Session
) -> None:
    account = create_account(username="hana", password=PASSWORD, role="hr_viewer")
    login("hana", PASSWORD)
    page = client.get("/account/tokens").get_data(as_text=True)
    made = client.post(
        "/account/tokens",
        data={"csrf_token": csrf_token(page), "name": "payroll", "read_only": "y", "days": "30"},
    )
    assert made.status_code == 201
    match = _TOKEN.search(made.get_data(as_text=True))
    assert match
    token = match.group(1)
    assert token.startswith("rc_ro_")
    again = client.get("/account/tokens").get_data(as_text=True)
    assert token not in again  # shown once
    assert token[:12] in again  # its beginning tells it apart
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    row = db.scalar(select(ApiToken).where(ApiToken.account_id == account.id))
    assert row is not None
    assert row.expires_at is not None
    revoked = client.post(
        f"/account/tokens/{row.id}/revoke", data={"csrf_token": csrf_token(again)}
    )
    assert revoked.status_code == 302
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_token_needs_a_name_and_an_account_revokes_only_its_own(
    client: Any, login: Callable[..., Any], create_account: Callable[..., Any], db: Session
) -> None:
    from server.api.tokens import create_token
    from server.audit.services import Actor

    other = create_account(role="admin")
    theirs = create_token(
        db, account_id=other.id, name="theirs", read_only=False, actor=Actor.system("t")
    )
    db.commit()
    create_account(username="hana", password=PASSWORD, role="hr_manager")
    login("hana", PASSWORD)
    page = client.get("/account/tokens").get_data(as_text=True)
    assert "theirs" not in page
    nameless = client.post("/account/tokens", data={"csrf_token": csrf_token(page), "days": "0"})
    assert nameless.status_code == 422
    assert db.scalar(select(ApiToken.id).where(ApiToken.name == "")) is None
    refused = client.post(
        f"/account/tokens/{theirs.row.id}/revoke", data={"csrf_token": csrf_token(page)}
    )
    assert refused.status_code == 404
    db.expire_all()
    assert db.get(ApiToken, theirs.row.id).revoked_at is None  # type: ignore[union-attr]


def test_an_administrator_sees_and_revokes_every_token(
    client: Any, login: Callable[..., Any], create_account: Callable[..., Any], db: Session
) -> None:
    from server.api.tokens import create_token
    from server.audit.services import Actor

    owner = create_account(username="mira", role="hr_viewer")
    theirs = create_token(
        db, account_id=owner.id, name="mira's script", read_only=True, actor=Actor.system("t")
    )
    db.commit()
    create_account(username="root", password=PASSWORD, role="admin")
    login("root", PASSWORD)
    page = client.get("/account/tokens").get_data(as_text=True)
    assert "mira" in page
    response = client.post(
        f"/account/tokens/{theirs.row.id}/revoke", data={"csrf_token": csrf_token(page)}
    )
    assert response.status_code == 302
    db.expire_all()
    assert db.get(ApiToken, theirs.row.id).revoked_at is not None  # type: ignore[union-attr]


def test_the_cli_creates_lists_and_revokes_tokens(cli_instance: tuple[Path, str]) -> None:
    home, _password = cli_instance
    made = run(home, "tokens", "create", "--account", "admin", "--name", "backup", "--read-only")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("rc_ro_")
    listed = run(home, "tokens", "list")
    assert token not in listed.stdout
    assert token[:12] in listed.stdout
    assert "active" in listed.stdout
    token_id = re.search(r"Token (\d+)", made.stdout).group(1)  # type: ignore[union-attr]
    assert run(home, "tokens", "revoke", token_id).returncode == 0
    assert "revoked" in run(home, "tokens", "list").stdout
    again = run(home, "tokens", "revoke", token_id)
    assert again.returncode == 1
    assert "already revoked" in again.stderr
    nobody = run(home, "tokens", "create", "--account", "nobody", "--name", "x")
    assert nobody.returncode == 1
