# SPDX-License-Identifier: GPL-2.0-or-later
"""Page objects: what a person does on each page, so tests read as their steps and the
selectors live in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.conftest import PASSWORD


class LoginPage:
    def __init__(self, page: Any) -> None:
        self.page = page

    def sign_in(self, username: str, password: str = PASSWORD) -> DashboardPage:
        self.page.goto("/login")
        self.page.fill("#username", username)
        self.page.fill("#password", password)
        self.page.click("button[type=submit]:has-text('Sign in')")
        self.page.wait_for_selector("nav.mainnav")
        return DashboardPage(self.page)


class DashboardPage:
    def __init__(self, page: Any) -> None:
        self.page = page

    def open(self) -> DashboardPage:
        self.page.goto("/")
        return self

    def figure(self, element_id: str) -> int:
        return int(self.page.inner_text(f"#{element_id}"))

    def nav_labels(self) -> list[str]:
        return [t.strip() for t in self.page.locator("nav.mainnav a").all_inner_texts()]

    def go_to(self, label: str) -> None:
        self.page.click(f"nav.mainnav a:has-text('{label}')")


class TerminalsPage:
    def __init__(self, page: Any) -> None:
        self.page = page

    def open(self) -> TerminalsPage:
        self.page.goto("/terminals")
        return self

    def can_add(self) -> bool:
        return bool(self.page.locator("#add-terminal").count())

    def add(
        self, address: str, *, name: str = "", comm_key: str = "", timezone: str = ""
    ) -> TerminalPage:
        self.page.click("#add-terminal")
        self.page.fill("#address", address)
        if timezone:
            self.page.fill("#timezone", timezone)
        if name:
            self.page.fill("#name", name)
        if comm_key:
            self.page.fill("#comm_key", comm_key)
        self.page.click("#add-terminal-button")
        self.page.wait_for_selector("#sync")
        return TerminalPage(self.page)


class TerminalPage:
    def __init__(self, page: Any) -> None:
        self.page = page

    def open(self, terminal_id: int) -> TerminalPage:
        self.page.goto(f"/terminals/{terminal_id}")
        return self

    def flash(self) -> str:
        return str(self.page.inner_text(".flashes"))

    def has_control(self, element_id: str) -> bool:
        return bool(self.page.locator(f"#{element_id}").count())

    def progress_after_registration(self, timeout_ms: int = 60_000) -> int:
        """Wait for the first sync (the worker's own) to show in the run list; its count."""
        cell = self.page.locator("#runs tbody tr:first-child td:nth-child(3)")
        for _ in range(timeout_ms // 200):
            self.page.reload()
            if cell.count() and "running" not in self.page.inner_text("#runs tbody tr"):
                return int(cell.inner_text())
            self.page.wait_for_timeout(200)
        raise AssertionError("the first sync did not finish")

    def sync_now(self) -> None:
        self.page.click("#sync-now")
        self.page.wait_for_selector("#sync-bar")

    def progress_seen(self, until: str = "ok", timeout_ms: int = 60_000) -> list[int]:
        """The bar's values, sampled until the status reaches ``until``."""
        seen: list[int] = []
        status = self.page.locator("#sync-status")
        deadline_polls = timeout_ms // 100
        for _ in range(deadline_polls):
            # The state first, then the bar: the page sets both in one update, so a final
            # state read before the bar is never paired with the bar of an earlier update.
            state = status.get_attribute("data-state")
            seen.append(int(float(self.page.get_attribute("#sync-bar", "value") or 0)))
            if state in (until, "failed", "stalled"):
                break
            self.page.wait_for_timeout(100)
        return seen

    def status(self) -> tuple[str, str]:
        status = self.page.locator("#sync-status")
        return str(status.get_attribute("data-state")), str(status.inner_text())


class PunchesPage:
    def __init__(self, page: Any) -> None:
        self.page = page

    def open(self) -> PunchesPage:
        self.page.goto("/punches")
        return self

    def find(self, person: str) -> list[str]:
        self.page.fill("#person", person)
        self.page.click("#apply-filters")
        self.page.wait_for_load_state()
        return self.rows()

    def rows(self) -> list[str]:
        return [str(t) for t in self.page.locator("#punches tbody tr").all_inner_texts()]

    def can_add_by_hand(self) -> bool:
        return bool(self.page.locator("#add-manual-punch").count())

    def can_export(self) -> bool:
        return bool(self.page.locator("#export-xlsx").count())

    def export_xlsx(self, into: Path) -> Path:
        with self.page.expect_download() as download:
            self.page.click("#export-xlsx")
        target = into / download.value.suggested_filename
        download.value.save_as(target)
        return target

    def post_without_the_form(self, path: str, fields: dict[str, str]) -> int:
        """POST with the page's CSRF token but no button to press: what the server allows
        whatever the page shows."""
        return int(
            self.page.evaluate(
                """async ([path, fields]) => {
                    const body = new URLSearchParams(fields);
                    body.set("csrf_token", document.querySelector("input[name=csrf_token]").value);
                    const r = await fetch(path, {method: "POST", body, redirect: "manual"});
                    return r.status;
                }""",
                [path, fields],
            )
        )
