# SPDX-License-Identifier: GPL-2.0-or-later
"""Browser tests (issue #6): Rollcall served by waitress on 127.0.0.1 against a database of
its own, a worker beside it, and Debian's Chromium driven by Playwright.

The browser is the system's ``/usr/bin/chromium`` (the README's test command installs it):
``playwright install`` is never run. Each launch gets a fresh temporary profile from
Playwright, and each test a new browser context (its own cookies).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from server import migrate
from server.audit.services import Actor
from server.db import make_engine, make_sessionmaker
from server.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"
TIMEOUT_MS = 20_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test here is a browser test: `pytest -m browser` selects them, `-m "not browser"`
    # leaves them out; the normal suite runs them.
    for item in items:
        if "/tests/browser/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


@dataclass
class LiveServer:
    url: str
    sessions: sessionmaker[Session]
    settings: Settings

    def account(self, role: str = "admin", **extra: Any) -> str:
        """A new account of ``role`` (with ``departments``: limited to them); its username."""
        from server.auth.models import account_departments
        from server.auth.services import create_account

        departments = extra.pop("departments", ())
        username = f"{role.replace('_', '')}{uuid.uuid4().hex[:6]}"
        with self.sessions() as db:
            account = create_account(
                db, username=username, password=PASSWORD, role=role, actor=Actor.system("test")
            )
            for key, value in extra.items():
                setattr(account, key, value)
            if departments:
                db.execute(
                    account_departments.insert(),
                    [{"account_id": account.id, "department_id": d} for d in departments],
                )
            db.commit()
        return username


@pytest.fixture(scope="module")
def live_server(
    fresh_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    from waitress import create_server

    from server.app import create_app
    from terminals.connect import client_for
    from terminals.worker import Worker

    home = tmp_path_factory.mktemp("live")
    (home / "data").mkdir()
    url = fresh_database()
    migrate.upgrade(url)
    settings = Settings(
        home=home,
        database_url=url,
        secret_key="browser-test-secret-" + "x" * 32,
        key_file=home / "keys" / "kek.key",
        data_dir=home / "data",
        timezone="Europe/Berlin",
    )
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    app = create_app(settings, engine=engine, sessions=sessions)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    serving = threading.Thread(target=server.run, name="waitress", daemon=True)
    serving.start()
    # The worker the "sync now" button hands terminals to, as `rollcall worker` would run.
    worker = Worker(
        sessions,
        lambda t: client_for(t, None),
        name="browser-worker",
        threads=2,
        reconcile_every=None,
    )
    working = threading.Thread(target=worker.run, kwargs={"idle_sleep": 0.2}, daemon=True)
    working.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.effective_port}", sessions, settings)
    finally:
        worker.stop.set()
        working.join(timeout=30)
        server.close()
        engine.dispose()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: the README's test command installs Debian's chromium"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    """A page in a context of its own (no cookies shared between tests), in English."""
    context = chromium.new_context(base_url=live_server.url, locale="en-US", accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
