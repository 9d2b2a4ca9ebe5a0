# SPDX-License-Identifier: GPL-2.0-or-later
"""The OpenAPI description Rollcall serves: valid OpenAPI 3.1, and complete (issue #6)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from openapi_spec_validator import validate

from server.api.blueprint import PREFIX
from server.auth.models import Role
from tests.api.conftest import Api

_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def test_the_description_is_served_to_a_signed_in_client_and_is_valid_openapi_3_1(
    api: Api, issue_token: Callable[..., str]
) -> None:
    assert api.get("/openapi.json", None).status_code == 401
    response = api.get("/openapi.json", issue_token("auditor", read_only=True))
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema


def test_every_api_route_and_method_is_described(app: Any, spec: dict[str, Any]) -> None:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = _PARAM.sub(r"{\1}", rule.rule.removeprefix(PREFIX))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path, method.lower()))
    described = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert routes, "no API routes found"
    assert routes == described


def test_each_operation_names_its_roles_and_errors(app: Any, spec: dict[str, Any]) -> None:
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            assert op["summary"], where
            assert "admin" in op["x-roles"], where
            assert set(op["x-roles"]) <= {r.value for r in Role}, where
            assert {"401", "403"} <= set(op["responses"]), where
            if method != "get":
                assert {"400", "409"} <= set(op["responses"]), where
            if "{" in path:
                assert "404" in op["responses"], where
            view = app.view_functions["api." + op["operationId"]]
            assert {r.value for r in view.required_roles} == set(op["x-roles"]), where


def test_no_described_payload_has_a_place_for_templates(spec: dict[str, Any]) -> None:
    text = str(spec["components"]["schemas"]).lower()
    for word in ("template_data", "ciphertext", "secret", 'comm_key"', "password"):
        assert word not in text
