# SPDX-License-Identifier: GPL-2.0-or-later
"""The API's own refusals are in the caller's language (#6 review); their codes are not."""

from __future__ import annotations

from collections.abc import Callable

from tests.api.conftest import Api

CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9"}


def test_a_call_without_a_bearer_token_is_refused_in_the_callers_language(api: Api) -> None:
    english = api.get("/me", None, headers={"Authorization": "Basic YTpi"})
    assert english.status_code == 401
    assert english.get_json()["error"] == "unauthenticated"
    assert "Authorization: Bearer <token>" in english.get_json()["message"]
    chinese = api.get("/me", None, headers={"Authorization": "Basic YTpi", **CHINESE})
    assert chinese.status_code == 401
    assert chinese.get_json()["error"] == "unauthenticated"
    message = chinese.get_json()["message"]
    assert "请使用" in message
    assert "Use the header" not in message


def test_a_write_with_a_read_only_token_is_refused_in_the_callers_language(
    api: Api, issue_token: Callable[..., str]
) -> None:
    token = issue_token("admin", read_only=True)
    english = api.post("/requests", token, json={})
    assert english.status_code == 403
    assert english.get_json()["error"] == "forbidden"
    assert english.get_json()["message"] == "This API token is read-only."
    chinese = api.post("/requests", token, json={}, headers=CHINESE)
    assert chinese.status_code == 403
    assert chinese.get_json()["error"] == "forbidden"
    assert chinese.get_json()["message"] == "此 API 令牌为只读。"
