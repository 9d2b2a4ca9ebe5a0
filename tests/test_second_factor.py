# SPDX-License-Identifier: GPL-2.0-or-later
"""The optional TOTP second factor: enrolment, sign-in, replay refusal, recovery codes,
throttling, turning it off and an administrator's reset (issue #6)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from biometrics.keys import generate_key_file, load_key_file
from server.audit.models import AuditEvent
from server.audit.services import Actor
from server.auth import totp
from server.auth.models import Account, RecoveryCode, SecondFactor
from server.auth.services import LOCKOUT_THRESHOLD
from server.db import utcnow
from server.settings import Settings
from tests.conftest import csrf_token

PASSWORD = "correct horse battery"


@pytest.fixture
def instance_key(settings: Settings) -> Path:
    settings.key_file.parent.mkdir(mode=0o700)
    generate_key_file(settings.key_file)
    return settings.key_file


def _csrf(client: Any, path: str) -> str:
    return csrf_token(client.get(path).get_data(as_text=True))


def enrol(client: Any, login: Callable[..., Any], account: Account) -> tuple[str, list[str]]:
    """Sign in, set up the second factor; returns its secret and the recovery codes."""
    assert login(account.username, PASSWORD).status_code == 302
    page = client.post(
        "/account/two-factor/setup", data={"csrf_token": _csrf(client, "/account/two-factor")}
    ).get_data(as_text=True)
    match = re.search(r'<code class="token">([A-Z2-7]+)</code>', page)
    assert match, page
    secret = match.group(1)
    qr = re.search(r'<img class="qr" src="(data:image/svg\+xml[^"]+)"', page)
    assert qr
    assert "otpauth" not in page.split("<img", 1)[0]  # the URI is only inside the image
    assert "svg" in unquote(qr.group(1))
    done = client.post(
        "/account/two-factor/confirm",
        data={"csrf_token": csrf_token(page), "code": pyotp.TOTP(secret).now()},
    )
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9-]{19})</code></li>", done.get_data(as_text=True))
    assert len(codes) == totp.RECOVERY_CODES
    client.post("/logout", data={"csrf_token": _csrf(client, "/account/two-factor")})
    return secret, codes


def password_step(client: Any, login: Callable[..., Any], account: Account) -> Any:
    response = login(account.username, PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login/code"
    return response


def code_step(client: Any, code: str) -> Any:
    return client.post(
        "/login/code", data={"csrf_token": _csrf(client, "/login/code"), "code": code}
    )


def signed_in(client: Any) -> bool:
    return client.get("/").status_code == 200


def test_enrolment_needs_a_matching_code_and_stores_the_secret_sealed(
    client: Any,
    login: Callable[..., Any],
    create_account: Callable[..., Any],
    db: Session,
    instance_key: Path,
) -> None:
    account = create_account(username="hana", password=PASSWORD, role="hr_viewer")
    login("hana", PASSWORD)
    page = client.post(
        "/account/two-factor/setup", data={"csrf_token": _csrf(client, "/account/two-factor")}
    ).get_data(as_text=True)
    secret = re.search(r'<code class="token">([A-Z2-7]+)</code>', page).group(1)  # type: ignore[union-attr]
    wrong = client.post(
        "/account/two-factor/confirm", data={"csrf_token": csrf_token(page), "code": "000000"}
    )
    assert wrong.status_code == 422
    db.expire_all()
    factor = db.get(SecondFactor, account.id)
    assert factor is not None
    assert factor.confirmed_at is None  # not on until a code matches
    assert secret.encode() not in factor.secret_sealed
    assert totp.pending_secret(db, account, kek=load_key_file(instance_key)) == secret
    client.post(
        "/account/two-factor/confirm",
        data={"csrf_token": csrf_token(page), "code": pyotp.TOTP(secret).now()},
    )
    db.expire_all()
    assert db.get(SecondFactor, account.id).confirmed_at is not None  # type: ignore[union-attr]
    hashes = db.scalars(select(RecoveryCode.code_hash)).all()
    assert len(hashes) == totp.RECOVERY_CODES
    logged = db.scalars(select(AuditEvent).where(AuditEvent.action.like("auth.second_factor%")))
    assert [e.action for e in logged] == [
        "auth.second_factor_enrolment_started",
        "auth.second_factor_enabled",
    ]
    assert not any(secret in str(e.details) for e in db.scalars(select(AuditEvent)))


def test_sign_in_asks_for_the_code_after_the_password_and_refuses_a_replay(
    client: Any,
    login: Callable[..., Any],
    create_account: Callable[..., Any],
    db: Session,
    instance_key: Path,
) -> None:
    account = create_account(username="hana", password=PASSWORD)
    secret, _codes = enrol(client, login, account)
    password_step(client, login, account)
    assert not signed_in(client)  # the password alone does not sign in
    assert client.get("/api/v1/me").status_code == 401
    code = pyotp.TOTP(secret).at(utcnow() + timedelta(seconds=30))  # a later step than enrolment's
    done = code_step(client, code)
    assert done.status_code == 302
    assert signed_in(client)
    client.post("/logout", data={"csrf_token": _csrf(client, "/account/two-factor")})
    # the same code, once more: refused, even with the right password
    password_step(client, login, account)
    again = code_step(client, code)
    assert again.status_code == 401
    assert not signed_in(client)
    reasons = db.scalars(
        select(AuditEvent.details).where(AuditEvent.action == "auth.second_factor_failed")
    ).all()
    assert reasons == [{"reason": "replayed"}]


def test_a_recovery_code_signs_in_once(
    client: Any,
    login: Callable[..., Any],
    create_account: Callable[..., Any],
    db: Session,
    instance_key: Path,
) -> None:
    account = create_account(username="hana", password=PASSWORD)
    _secret, codes = enrol(client, login, account)
    password_step(client, login, account)
    assert code_step(client, codes[0].upper().replace("-", " ")).status_code == 302
    assert signed_in(client)
    client.post("/logout", data={"csrf_token": _csrf(client, "/account/two-factor")})
    password_step(client, login, account)
    assert code_step(client, codes[0]).status_code == 401
    assert totp.recovery_codes_left(db, account.id) == totp.RECOVERY_CODES - 1
    methods = db.scalars(
        select(AuditEvent.details).where(AuditEvent.action == "auth.signed_in")
    ).all()
    assert {"second_factor": "recovery_code"} in methods


def test_recovery_codes_work_without_the_instance_key(
    client: Any,
    login: Callable[..., Any],
    create_account: Callable[..., Any],
    instance_key: Path,
) -> None:
    account = create_account(username="hana", password=PASSWORD)
    secret, codes = enrol(client, login, account)
    instance_key.unlink()  # the web server lost access to the key
    password_step(client, login, account)
    assert code_step(client, pyotp.TOTP(secret).now()).status_code == 401
    password_step(client, login, account)
    assert code_step(client, codes[3]).status_code == 302


def test_wrong_codes_lock_the_account_and_the_password_does_not_reset_the_count(
    client: Any,
    login: Callable[..., Any],
    create_account: Callable[..., Any],
    db: Session,
    instance_key: Path,
) -> None:
    account = create_account(username="hana", password=PASSWORD)
    _secret, _codes = enrol(client, login, account)
    for _ in range(LOCKOUT_THRESHOLD):
        password_step(client, login, account)  # a right password between each guess
        assert code_step(client, "123456").status_code == 401
    db.expire_all()
    assert db.get(Account, account.id).locked_until is not None  # type: ignore[union-attr]
    # locked: the right password and the right code are both refused now
    assert login("hana", PASSWORD).status_code == 401
    assert not signed_in(client)


def test_the_code_step_expires_and_cannot_be_reached_without_the_password(
    client: Any,
    login: Callable[..., Any],
    create_account: Callable[..., Any],
    instance_key: Path,
) -> None:
    assert client.get("/login/code").status_code == 302
    account = create_account(username="hana", password=PASSWORD)
    _secret, _codes = enrol(client, login, account)
    password_step(client, login, account)
    with client.session_transaction() as s:
        pending = dict(s["second_factor"])
        pending["at"] -= 600  # the password was typed ten minutes ago
        s["second_factor"] = pending
    assert client.get("/login/code").headers["Location"] == "/login"


def test_turning_it_off_needs_the_password_and_a_code(
    client: Any,
    login: Callable[..., Any],
    create_account: Callable[..., Any],
    db: Session,
    instance_key: Path,
) -> None:
    account = create_account(username="hana", password=PASSWORD)
    _secret, codes = enrol(client, login, account)
    password_step(client, login, account)
    code_step(client, codes[0])
    token = _csrf(client, "/account/two-factor")
    refused = client.post(
        "/account/two-factor/disable",
        data={"csrf_token": token, "password": "wrong password!", "code": codes[1]},
    )
    assert refused.status_code == 422
    assert totp.is_enabled(db, account.id)
    ok = client.post(
        "/account/two-factor/disable",
        data={"csrf_token": token, "password": PASSWORD, "code": codes[1]},
    )
    assert ok.status_code == 302
    db.expire_all()
    assert not totp.is_enabled(db, account.id)
    assert db.scalar(select(RecoveryCode.id)) is None
    client.post("/logout", data={"csrf_token": _csrf(client, "/account/two-factor")})
    assert login("hana", PASSWORD).headers["Location"] == "/"  # the password alone again


def test_an_administrator_resets_someones_second_factor(
    client: Any,
    login: Callable[..., Any],
    create_account: Callable[..., Any],
    db: Session,
    instance_key: Path,
) -> None:
    user = create_account(username="hana", password=PASSWORD, role="hr_manager")
    enrol(client, login, user)
    admin = create_account(username="root", password=PASSWORD, role="admin")
    login("root", PASSWORD)
    token = _csrf(client, "/account/two-factor")
    assert (
        client.post(f"/account/{user.id}/two-factor/reset", data={"csrf_token": token}).status_code
        == 302
    )
    db.expire_all()
    assert not totp.is_enabled(db, user.id)
    entry = db.scalar(select(AuditEvent).where(AuditEvent.action == "auth.second_factor_reset"))
    assert entry is not None
    assert entry.actor_account_id == admin.id
    client.post("/logout", data={"csrf_token": token})
    # someone who is not an administrator may not reset anyone's
    login("hana", PASSWORD)
    other = create_account(role="hr_viewer")
    response = client.post(
        f"/account/{other.id}/two-factor/reset",
        data={"csrf_token": _csrf(client, "/account/two-factor")},
    )
    assert response.status_code == 403


def test_rotating_the_instance_key_reseals_the_secrets(
    db: Session, create_account: Callable[..., Any], instance_key: Path
) -> None:
    from server.enrolment.rotation import rotate_instance_key

    account = create_account()
    old = load_key_file(instance_key)
    secret = totp.begin_enrolment(db, account, kek=old, actor=Actor.system("test"))
    db.commit()
    result = rotate_instance_key(db, instance_key, actor=Actor.system("test"))
    assert result.swapped
    db.expire_all()
    assert totp.pending_secret(db, account, kek=load_key_file(instance_key)) == secret
