# SPDX-License-Identifier: GPL-2.0-or-later
"""Sign-in, deny-by-default and the security headers every page carries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.app import PUBLIC_ENDPOINTS
from server.audit.models import AuditEvent
from server.auth.models import Account
from server.auth.services import LOCKOUT_THRESHOLD
from tests.conftest import csrf_token

PASSWORD = "correct horse battery"


def test_the_login_page_is_public_and_carries_a_csrf_token(client: Any) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    assert csrf_token(response.get_data(as_text=True))


def test_health_answers_without_signing_in(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "schema": "current"}


def test_signing_in_opens_the_dashboard_and_is_audited(
    client: Any, login: Callable[..., Any], create_account: Callable[..., Any], db: Session
) -> None:
    account = create_account(username="hana", password=PASSWORD)
    response = login("hana", PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "punches today" in page.get_data(as_text=True)
    actions = db.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == str(account.id))
    ).all()
    assert "auth.signed_in" in actions


def test_a_wrong_password_gets_a_generic_message_and_is_counted(
    client: Any, login: Callable[..., Any], create_account: Callable[..., Any], db: Session
) -> None:
    account = create_account(username="hana", password=PASSWORD)
    wrong = login("hana", "not the password")
    unknown = login("nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    # the same words whether or not the account exists
    assert wrong.get_data(as_text=True).count("Sign-in failed") == 1
    assert unknown.get_data(as_text=True).count("Sign-in failed") == 1
    db.expire_all()
    assert db.get(Account, account.id).failed_logins == 1  # type: ignore[union-attr]
    failures = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "auth.sign_in_failed")
    ).all()
    assert len(failures) == 2
    assert client.get("/").status_code == 302  # still signed out


def test_repeated_failures_lock_the_account_even_for_the_right_password(
    login: Callable[..., Any], create_account: Callable[..., Any], db: Session
) -> None:
    account = create_account(username="hana", password=PASSWORD)
    for _ in range(LOCKOUT_THRESHOLD):
        login("hana", "guess")
    db.expire_all()
    assert db.get(Account, account.id).locked_until is not None  # type: ignore[union-attr]
    assert login("hana", PASSWORD).status_code == 401


def test_a_post_without_the_csrf_token_is_refused(
    client: Any, create_account: Callable[..., Any]
) -> None:
    create_account(username="hana", password=PASSWORD)
    response = client.post("/login", data={"username": "hana", "password": PASSWORD})
    assert response.status_code == 400
    assert "did not come from Rollcall" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_sign_out_needs_a_post_with_the_token(
    client: Any, login: Callable[..., Any], create_account: Callable[..., Any]
) -> None:
    create_account(username="hana", password=PASSWORD)
    login("hana", PASSWORD)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no token: refused, still signed in
    assert client.get("/").status_code == 200
    token = csrf_token(client.get("/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_the_next_parameter_cannot_send_users_off_site(
    login: Callable[..., Any], client: Any, create_account: Callable[..., Any]
) -> None:
    create_account(username="hana", password=PASSWORD)
    page = client.get("/login?next=//evil.example/x").get_data(as_text=True)
    response = client.post(
        "/login?next=//evil.example/x",
        data={"username": "hana", "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    assert response.headers["Location"] == "/"


def test_every_endpoint_but_the_public_ones_needs_a_sign_in(app: Any, client: Any) -> None:
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        url = rule.build(dict.fromkeys(rule.arguments, 1))[1]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(url, method=method)
            assert response.status_code in (302, 400, 401), (method, url)
            if response.status_code == 302:
                assert response.headers["Location"].startswith("/login")
            checked += 1
    assert checked >= 2


def test_the_api_style_answer_for_an_anonymous_json_client_is_401(client: Any) -> None:
    response = client.get("/", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthenticated"


def test_pages_carry_security_headers_and_forbid_inline_script(client: Any) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" not in response.get_data(as_text=True)
    cookie = client.get_cookie("rollcall_session")
    assert cookie is None or cookie.http_only
