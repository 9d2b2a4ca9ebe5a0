# SPDX-License-Identifier: GPL-2.0-or-later
"""Sessions (issue #6): a fresh session at sign-in, the idle timeout, cookie flags, and
sessions that end for good when their owner signs out, changes the password, or is
reset or deactivated by an administrator. Also the redirects that must stay on site."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.api.tokens import create_token
from server.audit.models import AuditEvent
from server.audit.services import Actor
from server.auth import admin
from server.auth.models import Account
from server.auth.throttle import SignInThrottle
from server.db import utcnow
from server.web import local_path
from tests.conftest import csrf_token

PASSWORD = "correct horse battery"
COOKIE = "rollcall_session"


def _signed_in(client: Any) -> bool:
    return client.get("/").status_code == 200


def _copy_of_cookie(client: Any) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return str(cookie.value)


def test_signing_in_starts_a_fresh_session(
    client: Any, login: Callable[..., Any], create_account: Callable[..., Any]
) -> None:
    create_account(username="hana", password=PASSWORD)
    client.get("/login")
    with client.session_transaction() as before:
        before["planted"] = "by someone else"  # e.g. a fixated session
    login("hana", PASSWORD)
    with client.session_transaction() as after:
        assert "planted" not in after
        assert isinstance(after.get("account_id"), int)


def test_an_idle_session_ends(
    client: Any, login: Callable[..., Any], create_account: Callable[..., Any]
) -> None:
    create_account(username="hana", password=PASSWORD)
    login("hana", PASSWORD)
    assert _signed_in(client)
    with client.session_transaction() as state:
        state["seen"] = (utcnow() - timedelta(minutes=29)).timestamp()
    assert _signed_in(client)  # used within the 30 minutes: still on, and refreshed
    with client.session_transaction() as state:
        state["seen"] = (utcnow() - timedelta(minutes=31)).timestamp()
    response = client.get("/employees")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert not _signed_in(client)


def test_the_language_switch_does_not_act_for_an_idle_session(
    client: Any, login: Callable[..., Any], create_account: Callable[..., Any], db: Session
) -> None:
    account = create_account(username="hana", password=PASSWORD)
    login("hana", PASSWORD)
    token = csrf_token(client.get("/").get_data(as_text=True))
    with client.session_transaction() as state:
        state["seen"] = (utcnow() - timedelta(hours=2)).timestamp()
    client.post("/language", data={"locale": "zh_CN", "csrf_token": token})
    db.expire_all()
    assert db.get(Account, account.id).locale is None  # type: ignore[union-attr]


@pytest.mark.parametrize("secure", [True, False])
def test_the_session_cookie_flags(
    settings: Any,
    sessions: Any,
    create_account: Callable[..., Any],
    secure: bool,
) -> None:
    from server.app import create_app

    app = create_app(replace(settings, secure_cookies=secure), sessions=sessions)
    client = app.test_client()
    create_account(username="hana", password=PASSWORD)
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login", data={"username": "hana", "password": PASSWORD, "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 302
    cookie = next(v for v in response.headers.getlist("Set-Cookie") if v.startswith(f"{COOKIE}="))
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert "httponly" in flags
    assert "samesite=lax" in cookie.lower()
    assert ("secure" in flags) is secure


def test_signing_out_ends_every_copy_of_the_session(
    app: Any, client: Any, login: Callable[..., Any], create_account: Callable[..., Any]
) -> None:
    create_account(username="hana", password=PASSWORD)
    login("hana", PASSWORD)
    stolen = _copy_of_cookie(client)
    token = csrf_token(client.get("/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    thief = app.test_client()
    thief.set_cookie(COOKIE, stolen)
    assert not _signed_in(thief)


def test_a_new_password_ends_other_sessions_but_not_this_one(
    app: Any, client: Any, login: Callable[..., Any], create_account: Callable[..., Any]
) -> None:
    create_account(username="hana", password=PASSWORD)
    login("hana", PASSWORD)
    other = app.test_client()
    other.set_cookie(COOKIE, _copy_of_cookie(client))
    assert _signed_in(other)
    token = csrf_token(client.get("/account/password").get_data(as_text=True))
    response = client.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "new": "a brand new passphrase",
            "confirm": "a brand new passphrase",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert _signed_in(client)
    assert not _signed_in(other)


@pytest.mark.parametrize("action", ["reset", "deactivate"])
def test_an_administrator_ends_the_sessions_of_a_reset_or_deactivated_account(
    client: Any,
    login: Callable[..., Any],
    create_account: Callable[..., Any],
    db: Session,
    action: str,
) -> None:
    account = create_account(username="hana", password=PASSWORD, role="hr_manager")
    login("hana", PASSWORD)
    assert _signed_in(client)
    system = Actor.system("test")
    if action == "reset":
        admin.reset_password(db, account.id, actor=system)
    else:
        admin.set_account_active(db, account.id, False, actor=system)
        db.commit()
        assert not _signed_in(client)
        # Active again, the account signs in afresh: the old session stays over.
        admin.set_account_active(db, account.id, True, actor=system)
    db.commit()
    assert not _signed_in(client)


def test_a_token_of_an_account_that_must_change_its_password_is_refused(
    client: Any, create_account: Callable[..., Any], db: Session
) -> None:
    account = create_account(username="hana", password=PASSWORD)
    issued = create_token(
        db, account_id=account.id, name="payroll", read_only=True, actor=Actor.system("test")
    )
    db.commit()
    headers = {"Authorization": f"Bearer {issued.secret}"}
    assert client.get("/api/v1/employees", headers=headers).status_code == 200
    admin.reset_password(db, account.id, actor=Actor.system("test"))
    db.commit()
    refused = client.get("/api/v1/employees", headers=headers)
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "password_change_required"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "/\\evil.example/x",
        "/\\/evil.example",
        "/\t/evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "",
    ],
)
def test_redirect_targets_off_site_are_refused(target: str) -> None:
    assert local_path(target) is None


def test_redirect_targets_on_site_are_kept() -> None:
    assert (
        local_path("/punches?person=1001&from=2026-11-01") == "/punches?person=1001&from=2026-11-01"
    )


def test_sign_in_and_the_language_switch_stay_on_site(
    client: Any, login: Callable[..., Any], create_account: Callable[..., Any]
) -> None:
    create_account(username="hana", password=PASSWORD)
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login?next=/%5Cevil.example/x",
        data={"username": "hana", "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    assert response.headers["Location"] == "/"
    token = csrf_token(client.get("/").get_data(as_text=True))
    switched = client.post(
        "/language", data={"locale": "en", "next": "/\\evil.example", "csrf_token": token}
    )
    assert switched.headers["Location"] == "/"


# --------------------------------------------------------------------------- throttling
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_throttle_counts_failures_per_address_in_a_sliding_window() -> None:
    clock = Clock()
    throttle = SignInThrottle(limit=3, window_seconds=60, clock=clock)
    for _ in range(3):
        assert throttle.check("10.0.0.7").retry_after == 0
        throttle.failed("10.0.0.7")
        clock.now += 10
    first = throttle.check("10.0.0.7")
    assert first.retry_after == 30  # the oldest failure (t=1000) leaves the window at 1060
    assert first.first_refusal
    assert not throttle.check("10.0.0.7").first_refusal  # reported once per spell
    assert throttle.check("10.0.0.8").retry_after == 0  # another address is not affected
    clock.now += 30
    assert throttle.check("10.0.0.7").retry_after == 0


def test_the_throttle_forgets_the_least_recent_addresses_past_its_size() -> None:
    throttle = SignInThrottle(limit=1, window_seconds=60, max_addresses=2, clock=Clock())
    for address in ("a", "b", "c"):
        throttle.failed(address)
    assert throttle.check("a").retry_after == 0
    assert throttle.check("b").retry_after > 0
    assert throttle.check("c").retry_after > 0


def test_many_failed_sign_ins_from_one_address_are_refused_whatever_the_username(
    app: Any,
    client: Any,
    login: Callable[..., Any],
    create_account: Callable[..., Any],
    db: Session,
) -> None:
    create_account(username="hana", password=PASSWORD)
    app.extensions["rollcall.sign_in_throttle"] = SignInThrottle(limit=4, clock=Clock())
    for n in range(4):  # four names, one try each: no account reaches its own lockout
        assert login(f"guess{n}", "password1").status_code == 401
    refused = login("hana", PASSWORD)  # even the right password waits
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)
    assert login("hana", PASSWORD).status_code == 429
    throttled = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "auth.sign_in_throttled")
    ).all()
    assert len(throttled) == 1  # the spell is logged once, not every attempt
    assert not _signed_in(client)
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.9"  # only ever a string in the environ
    page = other.get("/login").get_data(as_text=True)
    response = other.post(
        "/login", data={"username": "hana", "password": PASSWORD, "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 302  # another computer signs in
