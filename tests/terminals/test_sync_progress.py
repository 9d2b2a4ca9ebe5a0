# SPDX-License-Identifier: GPL-2.0-or-later
"""The progress a sync writes on its run row, read by the terminal page's bar (issue #6)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.devices.models import SyncRun
from terminals import sync
from terminals.sync import sync_terminal
from tests.terminals.test_sync import client_for


@pytest.fixture
def setup(simulator: Any, create_terminal: Callable[..., Any]) -> Callable[..., tuple[Any, Any]]:
    def make(**kwargs: Any) -> tuple[Any, Any]:
        term = simulator.start(**kwargs)
        return term, create_terminal(term)

    return make


def test_a_running_sync_shows_its_phase_and_counts_to_another_session(
    db: Session,
    sessions: sessionmaker[Session],
    setup: Callable[..., tuple[Any, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every point recorded: on loopback the whole transfer takes less than the usual pace.
    monkeypatch.setattr(sync, "PROGRESS_EVERY_S", 0.0)
    term, row = setup(users=10, records=30_000)
    seen: list[tuple[str | None, int | None, int | None, str]] = []
    observer = sessions()

    def look(_phase: str, _done: int, _total: int) -> None:
        # What the web page would read at this moment, from its own session.
        observer.expire_all()
        run = observer.scalar(
            select(SyncRun).where(SyncRun.terminal_id == row.id).order_by(SyncRun.id.desc())
        )
        assert run is not None
        seen.append((run.progress_phase, run.progress_done, run.progress_total, run.status))
        observer.commit()  # ends its read; in the tests' shared connection, a savepoint

    run = sync_terminal(db, row, client_for(term, row), progress=look)
    observer.close()
    assert all(status == "running" for *_, status in seen)
    reads = [(done, total) for phase, done, total, _ in seen if phase == "read"]
    assert reads[0] == (0, 30_000)
    assert reads[-1] == (30_000, 30_000)
    assert any(0 < (done or 0) < 30_000 for done, _ in reads)  # it moved during the transfer
    assert seen[-1][:3] == ("ingest", 30_000, 30_000)
    db.refresh(run)
    assert (run.status, run.progress_phase, run.progress_done) == ("ok", "ingest", 30_000)


def test_a_run_starts_in_the_connect_phase_and_an_unchanged_one_stays_there(
    db: Session, setup: Callable[..., tuple[Any, Any]]
) -> None:
    term, row = setup(users=5, records=50)
    sync_terminal(db, row, client_for(term, row))
    again = sync_terminal(db, row, client_for(term, row))
    assert (again.status, again.progress_phase, again.progress_done) == ("unchanged", "connect", 0)
