# SPDX-License-Identifier: GPL-2.0-or-later
"""How a call to /api/v1 authenticates: bearer tokens (hashed, read-only or read-write,
revocable, expiring) and the browser session with its CSRF token (issue #6)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.api.models import ApiToken
from server.api.tokens import READ_ONLY_PREFIX, READ_WRITE_PREFIX, revoke_token, token_hash
from server.audit.models import AuditEvent
from server.audit.services import Actor
from server.db import utcnow
from server.employees.models import Employee
from server.rights.models import SubjectRequest
from tests.api.conftest import Api


def employee(db: Session, code: str = "E1") -> Employee:
    e = Employee(employee_code=code, given_name="Mira", family_name="Okafor")
    db.add(e)
    db.commit()
    return e


def requests_of(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(SubjectRequest)) or 0)


def test_a_token_acts_as_its_owner_and_only_its_hash_is_stored(
    api: Api, issue_token: Callable[..., str], db: Session
) -> None:
    token = issue_token("auditor", read_only=True)
    assert token.startswith(READ_ONLY_PREFIX)
    assert len(token) > 40
    me = api.get("/me", token)
    assert me.status_code == 200
    body = me.get_json()
    assert body["role"] == "auditor"
    assert body["token"]["read_only"] is True
    row = db.get(ApiToken, body["token"]["id"])
    assert row is not None
    assert row.token_hash == token_hash(token)
    assert token not in repr(row)
    assert row.prefix == token[: len(row.prefix)]
    db.expire_all()
    assert row.last_used_at is not None
    # the creation is audited, and no entry anywhere holds the token
    details = db.scalars(select(AuditEvent.details)).all()
    assert not any(token in str(d) for d in details)
    assert db.scalar(select(AuditEvent.id).where(AuditEvent.action == "api_token.created"))


def test_a_read_write_token_changes_data_and_the_log_names_the_token(
    api: Api, issue_token: Callable[..., str], db: Session
) -> None:
    person = employee(db)
    token = issue_token("privacy_officer")
    assert token.startswith(READ_WRITE_PREFIX)
    created = api.post("/requests", token, json={"employee_id": person.id, "kind": "access"})
    assert created.status_code == 201, created.get_json()
    entry = db.scalar(select(AuditEvent).where(AuditEvent.action == "request.received"))
    assert entry is not None
    token_id = db.scalar(select(ApiToken.id).where(ApiToken.token_hash == token_hash(token)))
    assert entry.actor_kind == f"token:{token_id}"


def test_a_read_only_token_is_refused_every_write_even_for_an_admin(
    api: Api, issue_token: Callable[..., str], db: Session
) -> None:
    person = employee(db)
    token = issue_token("admin", read_only=True)
    assert api.get("/requests", token).status_code == 200
    refused = api.post("/requests", token, json={"employee_id": person.id, "kind": "access"})
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "forbidden"
    assert requests_of(db) == 0


def test_revoked_expired_and_garbage_tokens_get_401_json(
    api: Api, issue_token: Callable[..., str], db: Session
) -> None:
    revoked = issue_token("admin")
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(revoked)))
    assert row is not None
    assert api.get("/me", revoked).status_code == 200
    revoke_token(db, row.id, actor=Actor.system("test"))
    db.commit()

    expired = issue_token("admin", days=1)
    old = db.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(expired)))
    assert old is not None
    old.expires_at = utcnow() - timedelta(seconds=1)
    db.commit()

    # the right shape with a wrong secret, another kind's prefix, and nonsense
    forged = READ_WRITE_PREFIX + revoked.removeprefix(READ_WRITE_PREFIX)[::-1]
    swapped = READ_ONLY_PREFIX + revoked.removeprefix(READ_WRITE_PREFIX)
    for bad in (revoked, expired, forged, swapped, "garbage", "rc_rw_" + "x" * 500):
        response = api.get("/me", bad)
        assert response.status_code == 401, bad
        assert response.get_json()["error"] == "unauthenticated"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_every_refused_token_is_logged_with_address_and_browser_never_the_token(
    api: Api, issue_token: Callable[..., str], db: Session
) -> None:
    revoked = issue_token("admin")
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(revoked)))
    assert row is not None
    revoke_token(db, row.id, actor=Actor.system("test"))
    db.commit()
    forged = READ_WRITE_PREFIX + revoked.removeprefix(READ_WRITE_PREFIX)[::-1]
    password = "my secret password"
    agent = {"User-Agent": "probe-client/2.1"}
    for bad in (revoked, forged, password, "rc_rw_" + "x" * 500):
        assert api.get("/me", bad, headers=agent).status_code == 401
    # committed before the 401: the request's rollback does not take the entries away
    db.expire_all()
    entries = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "api_token.refused").order_by(AuditEvent.seq)
    ).all()
    assert [e.details["reason"] for e in entries] == [
        "revoked",
        "unknown",
        "malformed",
        "malformed",
    ]
    assert all(e.user_agent == "probe-client/2.1" for e in entries)
    assert all(e.ip_address == "127.0.0.1" for e in entries)
    assert all(e.actor_account_id is None for e in entries)
    first, unknown, typed, _long = entries
    assert (first.object_type, first.object_id) == ("api_token", str(row.id))
    assert first.details["prefix"] == row.prefix
    assert first.details["account"] == row.account_id
    # only the part of a well-formed token that is shown in lists anyway
    assert unknown.details["prefix"] == forged[: len(row.prefix)]
    assert typed.details["prefix"] is None
    stored = " ".join(f"{e.details} {e.object_id} {e.user_agent} {e.actor_kind}" for e in entries)
    for secret in (revoked, forged, password, revoked[len(row.prefix) :][:12]):
        assert secret not in stored
    # a good token is not logged as refused
    assert api.get("/me", issue_token("auditor"), headers=agent).status_code == 200
    assert (
        db.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "api_token.refused")
        )
        == 4
    )


def test_a_token_of_a_deactivated_account_stops_working(
    api: Api, issue_token: Callable[..., str], create_account: Callable[..., Any], db: Session
) -> None:
    owner = create_account(role="hr_manager")
    token = issue_token(account=owner)
    assert api.get("/me", token).status_code == 200
    owner.active = False
    db.commit()
    assert api.get("/me", token).status_code == 401
    db.expire_all()
    entry = db.scalars(select(AuditEvent).where(AuditEvent.action == "api_token.refused")).one()
    assert entry.details["reason"] == "account_inactive"
    assert entry.details["account"] == owner.id


def test_an_authorization_header_that_is_not_bearer_is_refused(api: Api, client: Any) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert response.status_code == 401
    assert api.get("/me", None).status_code == 401


def test_a_signed_in_browser_calls_the_api_with_its_csrf_token_on_writes(
    api: Api, signed_in: Callable[..., str], db: Session
) -> None:
    person = employee(db)
    csrf = signed_in("privacy_officer")
    # reads need no CSRF token
    assert api.get("/me", None).get_json()["token"] is None
    body = {"employee_id": person.id, "kind": "access"}
    missing = api.post("/requests", None, json=body)
    assert missing.status_code == 400
    assert missing.get_json()["error"] == "csrf"
    wrong = api.post("/requests", None, json=body, headers={"X-CSRFToken": "not-it"})
    assert wrong.status_code == 400
    assert requests_of(db) == 0
    ok = api.post("/requests", None, json=body, headers={"X-CSRFToken": csrf})
    assert ok.status_code == 201
    assert requests_of(db) == 1


def test_a_bearer_token_needs_no_csrf_token_even_beside_a_session(
    api: Api, signed_in: Callable[..., str], issue_token: Callable[..., str], db: Session
) -> None:
    person = employee(db)
    signed_in("auditor")
    token = issue_token("privacy_officer")
    response = api.post("/requests", token, json={"employee_id": person.id, "kind": "erasure"})
    assert response.status_code == 201
    # the token decides who acts, not the cookie beside it
    assert api.get("/me", token).get_json()["role"] == "privacy_officer"


def test_roles_apply_to_tokens_as_to_pages(
    api: Api, issue_token: Callable[..., str], db: Session
) -> None:
    person = employee(db)
    body = {"employee_id": person.id, "kind": "access"}
    viewer = issue_token("hr_viewer")
    auditor = issue_token("auditor")
    assert api.post("/requests", viewer, json=body).status_code == 403
    assert api.get("/requests", viewer).status_code == 403
    assert api.post("/requests", auditor, json=body).status_code == 403
    assert api.get("/requests", auditor).status_code == 200
    assert api.get("/audit/verify", auditor).status_code == 200
    assert api.get("/audit/verify", viewer).status_code == 403
    assert requests_of(db) == 0
