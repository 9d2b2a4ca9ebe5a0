# SPDX-License-Identifier: GPL-2.0-or-later
"""Refused API tokens go through the per-address sign-in throttle (#6 review): a flood of
bad tokens from one address cannot write an operation-log entry per request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.auth.throttle import LIMIT
from tests.api.conftest import Api
from tests.conftest import csrf_token

FLOODER = {"REMOTE_ADDR": "192.0.2.66"}
NEIGHBOUR = {"REMOTE_ADDR": "192.0.2.7"}


def me(api: Api, token: str, address: dict[str, str]) -> Any:
    """GET /me with ``token`` from ``address``, checked against the OpenAPI description."""
    api.client.environ_base.update(address)
    return api.get("/me", token)


def entries(db: Session) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def test_a_flood_of_bad_tokens_is_answered_429_and_logged_once_per_spell(
    api: Api, issue_token: Callable[..., str], db: Session
) -> None:
    good = issue_token("auditor", read_only=True)
    before = entries(db)
    statuses = []
    last: Any = None
    for n in range(50):
        last = me(api, f"rc_rw_{n:043d}", FLOODER)  # a 429 must be described too
        statuses.append(last.status_code)
    assert statuses == [401] * LIMIT + [429] * (50 - LIMIT)
    assert last.get_json()["error"] == "too_many_requests"
    assert set(last.get_json()) == {"error", "message", "details"}
    assert last.get_json()["details"]["retry_after_s"] > 0
    assert int(last.headers["Retry-After"]) > 0
    # one entry per refusal up to the limit, then one for the whole spell
    assert entries(db) - before == LIMIT + 1
    db.expire_all()
    throttled = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "api_token.throttled")
    ).one()
    assert throttled.ip_address == "192.0.2.66"
    # another address is not affected, and a good token works even from the flooded one
    assert me(api, good, NEIGHBOUR).status_code == 200
    assert me(api, good, FLOODER).status_code == 200
    # and the neighbour's own bad token is still refused and logged as usual
    refused = me(api, "nonsense", NEIGHBOUR)
    assert refused.status_code == 401
    assert entries(db) - before == LIMIT + 2


def test_bad_tokens_count_against_password_sign_ins_from_the_same_address(
    api: Api, client: Any, create_account: Callable[..., Any]
) -> None:
    create_account(username="ana", password="correct horse battery")
    for n in range(LIMIT):
        assert me(api, f"rc_ro_{n:043d}", FLOODER).status_code == 401
    page = client.get("/login", environ_base=FLOODER)
    token = csrf_token(page.get_data(as_text=True))
    response = client.post(
        "/login",
        data={"csrf_token": token, "username": "ana", "password": "correct horse battery"},
        environ_base=FLOODER,
    )
    assert response.status_code == 429


def test_every_operation_describes_the_throttles_answer(spec: dict[str, Any]) -> None:
    # Every operation needs a token or a session, so any of them can be answered 429.
    error = {"$ref": "#/components/schemas/Error"}
    e429 = spec["components"]["responses"]["E429"]
    assert e429["content"]["application/json"]["schema"] == error
    assert "Retry-After" in e429["headers"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op["responses"].get("429") == {"$ref": "#/components/responses/E429"}, (
                f"{method.upper()} {path}"
            )
