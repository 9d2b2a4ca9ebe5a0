# SPDX-License-Identifier: GPL-2.0-or-later
"""A screenshot of every main page in English and in Simplified Chinese (#6).

They land in ``$ROLLCALL_SCREENSHOTS`` when set (for a reviewer, or a documentation build),
else in the test's temporary folder. Each page must render in the asked language, with its
heading, and without a line of the other language's interface in the header.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, TIMEOUT_MS, LiveServer

PAGES = (
    ("dashboard", "/"),
    ("employees", "/employees"),
    ("departments", "/departments"),
    ("areas", "/areas"),
    ("terminals", "/terminals"),
    ("punches", "/punches"),
    ("requests", "/rights/requests"),
    ("privacy", "/privacy/notices"),
    ("operation-log", "/audit"),
    ("accounts", "/accounts"),
    ("settings", "/settings"),
    ("api-tokens", "/account/tokens"),
)
# The header's "Employees" link, as each language shows it.
EMPLOYEES = {"en": "Employees", "zh_CN": "员工"}


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("ROLLCALL_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def admin_page(chromium: Any, live_server: LiveServer, request: Any) -> Iterator[Any]:
    locale = request.param
    context = chromium.new_context(
        base_url=live_server.url,
        locale="zh-CN" if locale == "zh_CN" else "en-US",
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        # Signing in in the page's own language: the button's label differs, Enter does not.
        page.goto("/login")
        page.fill("#username", live_server.account("admin"))
        page.fill("#password", PASSWORD)
        page.press("#password", "Enter")
        page.wait_for_selector("nav.mainnav")
        yield locale, page
    finally:
        context.close()


@pytest.mark.parametrize("admin_page", ["en", "zh_CN"], indirect=True)
def test_every_main_page_renders_in_both_languages(
    admin_page: tuple[str, Any], shots: Path
) -> None:
    locale, page = admin_page
    other = "zh_CN" if locale == "en" else "en"
    for name, path in PAGES:
        response = page.goto(path)
        assert response is not None
        assert response.status == 200, f"{path}: {response.status}"
        assert page.locator("h1").first.inner_text().strip(), f"{path} has no heading"
        assert page.get_attribute("html", "lang") == locale.replace("_", "-")
        nav = page.inner_text("nav.mainnav")
        assert EMPLOYEES[locale] in nav
        assert EMPLOYEES[other] not in nav
        target = shots / f"{name}.{locale}.png"
        page.screenshot(path=str(target), full_page=True)
        assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
