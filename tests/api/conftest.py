# SPDX-License-Identifier: GPL-2.0-or-later
"""API test helpers: tokens, and a client that checks every answer against the OpenAPI
description the server itself publishes (so payload and description cannot drift)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy.orm import Session

from server.api.tokens import create_token
from server.audit.services import Actor
from tests.conftest import csrf_token

PASSWORD = "correct horse battery"


def resolve(node: Any, spec: dict[str, Any]) -> Any:
    """The schema with every local ``$ref`` replaced by what it points to."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return resolve(target, spec)
        return {k: resolve(v, spec) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, spec) for v in node]
    return node


class Api:
    """Calls /api/v1 with a bearer token and checks the answer against the description."""

    def __init__(self, client: Any, spec: dict[str, Any]) -> None:
        self.client = client
        self.spec = spec

    def _operation(self, method: str, path: str) -> dict[str, Any]:
        bare = path.split("?", 1)[0]
        for template, ops in self.spec["paths"].items():
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template)) + "$"
            if re.match(pattern, bare) and method.lower() in ops:
                return dict(ops[method.lower()])
        raise AssertionError(f"{method} {bare} is not in the OpenAPI description")

    def call(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        response = self.client.open("/api/v1" + path, method=method, json=json, headers=all_headers)
        operation = self._operation(method, path)
        described = operation["responses"].get(str(response.status_code))
        assert described is not None, (
            f"{method} {path} answered {response.status_code}, which is not described: "
            f"{response.get_data(as_text=True)[:300]}"
        )
        described = resolve(described, self.spec)
        schema = described.get("content", {}).get("application/json", {}).get("schema")
        if schema is not None:
            Draft202012Validator(schema).validate(response.get_json())
        return response

    def get(self, path: str, token: str | None, **kw: Any) -> Any:
        return self.call("GET", path, token, **kw)

    def post(self, path: str, token: str | None, **kw: Any) -> Any:
        return self.call("POST", path, token, **kw)


@pytest.fixture
def spec(app: Any) -> dict[str, Any]:
    from server.api.endpoints.meta import openapi_document

    with app.test_request_context():
        return openapi_document()


@pytest.fixture
def api(client: Any, spec: dict[str, Any]) -> Api:
    return Api(client, spec)


@pytest.fixture
def issue_token(db: Session, create_account: Callable[..., Any]) -> Callable[..., str]:
    """A token for a new account of ``role`` (or for ``account``)."""

    def make(
        role: str = "admin",
        *,
        read_only: bool = False,
        account: Any = None,
        days: int | None = None,
    ) -> str:
        owner = account or create_account(role=role)
        issued = create_token(
            db,
            account_id=owner.id,
            name=f"{role} client",
            read_only=read_only,
            days=days,
            actor=Actor.system("test"),
        )
        db.commit()
        return issued.secret

    return make


@pytest.fixture
def signed_in(
    client: Any, login: Callable[..., Any], create_account: Callable[..., Any]
) -> Callable[..., str]:
    """Sign a new account of ``role`` in with the browser; returns a page's CSRF token."""

    def make(role: str = "admin") -> str:
        account = create_account(role=role, password=PASSWORD)
        assert login(account.username, PASSWORD).status_code == 302
        return csrf_token(client.get("/account/tokens").get_data(as_text=True))

    return make
