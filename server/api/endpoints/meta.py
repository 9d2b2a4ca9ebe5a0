# SPDX-License-Identifier: GPL-2.0-or-later
"""The API's description of itself, and who is calling."""

from __future__ import annotations

from typing import Any

from flask import g

from server.api.blueprint import PREFIX, api
from server.api.registry import build_spec, ref
from server.api.schemas import SCHEMAS, iso
from server.web import ANY_ROLE, current_account

API_VERSION = "1.0.0"

TAGS = (
    ("meta", "The API itself and the caller."),
    ("employees", "People, within the caller's department scope."),
    ("organization", "The department and area trees."),
    ("dashboard", "The home page's figures."),
    ("terminals", "Terminals, syncs and the command outbox."),
    ("rights", "Data-subject requests, access packages and erasure."),
    ("attendance", "Punches and their append-only corrections."),
    ("audit", "The tamper-evident operation log."),
)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of every endpoint declared in the registry."""
    return build_spec(api, prefix=PREFIX, schemas=SCHEMAS, version=API_VERSION, tags=TAGS)


@api.route(
    "/openapi.json",
    summary="This API's OpenAPI 3.1 description",
    tag="meta",
    roles=ANY_ROLE,
    response={"type": "object"},
)
def openapi() -> Any:
    """Needs a token or a session like every other endpoint: what an installation exposes
    is not shown to anyone on the network who asks."""
    return openapi_document()


@api.route(
    "/me",
    summary="Who the token or session acts as",
    tag="meta",
    roles=ANY_ROLE,
    response=ref("Me"),
)
def me() -> Any:
    account = current_account()
    assert account is not None  # noqa: S101  # require_role let the request in
    token = g.get("api_token")
    return {
        "account_id": account.id,
        "username": account.username,
        "role": account.role,
        "token": None
        if token is None
        else {
            "id": token.id,
            "name": token.name,
            "read_only": token.read_only,
            "expires_at": iso(token.expires_at),
        },
    }
