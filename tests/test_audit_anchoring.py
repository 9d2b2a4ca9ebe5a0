# SPDX-License-Identifier: GPL-2.0-or-later
"""A cut tail is caught without a recent verification (#6 review): the worker anchors the
log's head on its own, and a verification fails when the log ends before the newest anchor
or the last kept verification, or when the anchors were removed since that verification.
Its reasons are translated on the page; the command line stays in English."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from server.audit.models import AuditEvent, AuditHead
from server.audit.services import (
    ANCHOR_EVERY,
    ANCHOR_FILE,
    VERIFICATION_FILE,
    Actor,
    anchor_head_if_due,
    load_verification,
    read_anchors,
    record_event,
    save_verification,
    verify_chain,
    verify_log,
)
from server.db import utcnow
from server.settings import Settings
from terminals.worker import Worker
from tests.conftest import csrf_token, run
from tests.test_audit import _instance_db, _log_some

PASSWORD = "correct horse battery"


def _write(db: Session, n: int) -> None:
    for i in range(n):
        record_event(db, "test.event", actor=Actor.system("test"), details={"n": i})
    db.commit()


def _cut_to(db: Session, seq: int) -> None:
    """What someone with write access to the database does: drop the newest entries and
    move the head back, so that the chain inside the database is consistent again."""
    keep = db.scalars(select(AuditEvent).where(AuditEvent.seq == seq)).one()
    db.execute(delete(AuditEvent).where(AuditEvent.seq > seq))
    db.execute(update(AuditHead).values(seq=keep.seq, hash=keep.hash))
    db.commit()
    db.expire_all()
    assert verify_chain(db).ok  # the database alone no longer shows it


def _worker(sessions: sessionmaker[Session], data_dir: Path, **kw: Any) -> Worker:
    def no_terminals(_terminal: Any) -> Any:
        raise AssertionError("no terminal is synced here")

    return Worker(
        sessions, no_terminals, name="w", threads=1, data_dir=data_dir, reconcile_every=None, **kw
    )


def _check(db: Session, settings: Settings) -> Any:
    return verify_log(
        db,
        anchor_path=settings.data_dir / ANCHOR_FILE,
        verification_path=settings.data_dir / VERIFICATION_FILE,
    ).report


# --------------------------------------------------------------------------- the worker
def test_the_worker_anchors_the_head_when_the_log_has_grown_for_an_hour(
    db: Session, sessions: sessionmaker[Session], settings: Settings
) -> None:
    path = settings.data_dir / ANCHOR_FILE
    later = [utcnow()]
    worker = _worker(sessions, settings.data_dir, clock=lambda: later[0])
    assert worker.anchor_log() is None  # an empty log has nothing to anchor
    _write(db, 3)
    first = worker.anchor_log()
    assert first is not None
    assert first.seq == 3
    head = db.get(AuditHead, 1)
    assert head is not None
    assert first.hash == head.hash
    assert path.stat().st_mode & 0o777 == 0o600
    _write(db, 2)
    assert worker.anchor_log() is None  # grown, but the last anchor is fresh
    later[0] += ANCHOR_EVERY
    second = worker.anchor_log()
    assert second is not None
    assert second.seq == 5
    later[0] += ANCHOR_EVERY
    assert worker.anchor_log() is None  # nothing new: no anchor, however old the last
    assert [a.seq for a in read_anchors(path)] == [3, 5]
    # a worker started later goes on from the file's newest anchor
    assert _worker(sessions, settings.data_dir).anchor_log() is None


def test_the_worker_anchors_at_once_after_many_entries(db: Session, settings: Settings) -> None:
    path = settings.data_dir / ANCHOR_FILE
    _write(db, 2)
    first = anchor_head_if_due(db, path, last=None, every_entries=10)
    assert first is not None
    _write(db, 9)
    assert anchor_head_if_due(db, path, last=first, every_entries=10) is None
    _write(db, 1)
    tenth = anchor_head_if_due(db, path, last=first, every_entries=10)
    assert tenth is not None
    assert tenth.seq == first.seq + 10


def test_the_workers_step_anchors_without_verifying(
    db: Session, sessions: sessionmaker[Session], settings: Settings
) -> None:
    _write(db, 4)
    # an altered entry is the verification's business, not the anchoring's
    db.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(action="edited"))
    db.commit()
    worker = _worker(sessions, settings.data_dir)
    try:
        worker.step()
    finally:
        worker.shutdown()
    assert [a.seq for a in read_anchors(settings.data_dir / ANCHOR_FILE)] == [4]


# --------------------------------------------------------------------------- a cut tail
def test_a_tail_cut_after_the_workers_anchor_is_reported_at_the_first_missing_entry(
    db: Session,
    sessions: sessionmaker[Session],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _write(db, 10)
    worker = _worker(sessions, settings.data_dir)
    anchor = worker.anchor_log()
    assert anchor is not None
    assert anchor.seq == 10
    _cut_to(db, 6)
    report = _check(db, settings)
    assert not report.ok
    assert report.code == "cut_below_anchor"
    assert report.first_broken_seq == 7  # the first entry missing, not the anchor's 10
    assert report.entries == 6
    assert report.reason.startswith("the log ends at entry 6, but entry 10 was anchored at")
    # the worker notices too, and does not anchor the shorter log
    with caplog.at_level(logging.ERROR, logger="server.audit.services"):
        assert worker.anchor_log() is None
    assert "entries were cut off" in caplog.text
    assert [a.seq for a in read_anchors(settings.data_dir / ANCHOR_FILE)] == [10]


def test_a_tail_cut_below_the_last_verification_fails_without_any_anchor(
    db: Session, settings: Settings
) -> None:
    _write(db, 8)
    report = _check(db, settings)
    assert report.ok
    save_verification(settings.data_dir / VERIFICATION_FILE, report, actor=Actor.system("cli"))
    assert not (settings.data_dir / ANCHOR_FILE).exists()  # checked, never anchored
    _cut_to(db, 5)
    cut = _check(db, settings)
    assert (cut.ok, cut.code, cut.first_broken_seq) == (False, "cut_below_verification", 6)
    assert "saw it reach entry 8" in (cut.reason or "")
    # a failed check in between does not make the next one forget how far the log reached
    save_verification(settings.data_dir / VERIFICATION_FILE, cut, actor=Actor.system("cli"))
    _write(db, 1)
    again = _check(db, settings)
    assert (again.ok, again.first_broken_seq) == (False, 7)


def test_the_command_line_reports_a_cut_tail_at_the_first_missing_entry(
    cli_instance: tuple[Path, str],
) -> None:
    home, _ = cli_instance
    _log_some(home, 6)
    ok = run(home, "audit", "verify", "--no-anchor")
    assert ok.returncode == 0, ok.stderr
    with _instance_db(home) as db:
        top = int(db.scalar(select(AuditHead.seq)) or 0)
        keep = db.scalars(select(AuditEvent).where(AuditEvent.seq == top - 2)).one()
        db.execute(delete(AuditEvent).where(AuditEvent.seq > keep.seq))
        db.execute(update(AuditHead).values(seq=keep.seq, hash=keep.hash))
    cut = run(home, "audit", "verify", "--no-anchor")
    assert cut.returncode == 1
    assert f"(first bad entry: {top - 1};" in cut.stderr
    assert f"saw it reach entry {top}" in cut.stderr


# --------------------------------------------------------------------------- lost anchors
def test_an_anchor_file_deleted_after_a_verification_fails_the_next_one(
    cli_instance: tuple[Path, str],
) -> None:
    home, _ = cli_instance
    _log_some(home, 4)
    assert run(home, "audit", "verify").returncode == 0
    anchors = home / "data" / ANCHOR_FILE
    anchors.unlink()
    for options in (["--no-anchor"], []):
        lost = run(home, "audit", "verify", *options)
        assert lost.returncode == 1
        assert "cannot be shown intact" in lost.stderr
        assert f"the anchor file {anchors} is missing or empty" in lost.stderr
        assert not anchors.exists()  # a failed check writes no anchor
    kept = load_verification(home / "data" / VERIFICATION_FILE)
    assert kept is not None
    assert (kept.ok, kept.code) == (False, "anchors_missing")
    # an empty file is no better
    anchors.write_text("", encoding="utf-8")
    assert "is missing or empty" in run(home, "audit", "verify").stderr


def test_a_new_anchor_file_does_not_make_up_for_the_lost_one(
    db: Session, sessions: sessionmaker[Session], settings: Settings
) -> None:
    path = settings.data_dir / ANCHOR_FILE
    _write(db, 3)
    report = _check(db, settings)
    assert report.ok
    save_verification(
        settings.data_dir / VERIFICATION_FILE,
        report,
        actor=Actor.system("cli"),
        anchor=anchor_head_if_due(db, path, last=None),
    )
    path.unlink()
    _write(db, 2)
    assert _worker(sessions, settings.data_dir).anchor_log() is not None  # a fresh file
    lost = _check(db, settings)
    assert (lost.ok, lost.code, lost.first_broken_seq) == (False, "anchors_removed", None)
    assert "no longer holds the anchor of entry 3" in (lost.reason or "")


def test_a_first_verification_needs_no_anchor_file(db: Session, settings: Settings) -> None:
    _write(db, 2)
    assert _check(db, settings).ok


# --------------------------------------------------------------------------- in the pages
@pytest.fixture
def auditor(
    client: Any, login: Callable[[str, str], Any], create_account: Callable[..., Any]
) -> Any:
    create_account(username="aud", role="auditor")
    login("aud", PASSWORD)
    return client


def _verify(client: Any, **headers: str) -> str:
    token = csrf_token(client.get("/audit", headers=headers).get_data(as_text=True))
    page = client.post(
        "/audit/verify", data={"csrf_token": token}, headers=headers, follow_redirects=True
    )
    return str(page.get_data(as_text=True))


def test_the_page_reports_a_cut_tail_in_the_readers_language(
    auditor: Any, db: Session, sessions: sessionmaker[Session], settings: Settings
) -> None:
    _write(db, 6)
    anchor = _worker(sessions, settings.data_dir).anchor_log()
    assert anchor is not None
    kept = anchor.seq - 3
    _cut_to(db, kept)
    chinese = {"Accept-Language": "zh-CN,zh;q=0.9"}
    page = _verify(auditor, **chinese)
    assert "the newest entries were cut off" not in page
    assert "最新的记录被截掉了" in page
    status = auditor.get("/audit", headers=chinese).get_data(as_text=True)
    assert "最新的记录被截掉了" in status
    assert f"/audit?before={kept + 2}" in status  # shows the first missing entry
    english = auditor.get("/audit", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert (
        f"found entry {kept + 1} broken: the log ends at entry {kept}, "
        f"but entry {anchor.seq} was anchored at"
    ) in english


def test_the_page_reports_lost_anchors_in_the_readers_language(
    auditor: Any, db: Session, settings: Settings
) -> None:
    _write(db, 2)
    assert "The operation log is intact" in _verify(auditor)
    (settings.data_dir / ANCHOR_FILE).unlink()
    page = _verify(auditor, **{"Accept-Language": "zh-CN"})
    assert "is missing or empty" not in page
    assert "锚点文件" in page
    english = _verify(auditor, **{"Accept-Language": "en"})
    assert "The operation log cannot be shown intact: the anchor file" in english
    assert "is missing or empty" in english


def test_the_reasons_of_a_broken_chain_are_translated(auditor: Any, db: Session) -> None:
    _write(db, 3)
    db.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(action="edited"))
    db.commit()
    page = _verify(auditor, **{"Accept-Language": "zh-CN"})
    assert "entry altered" not in page
    assert "记录被改动" in page
    assert "entry altered" in auditor.get("/audit", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )


def test_an_old_kept_result_without_a_code_is_still_translated(
    auditor: Any, settings: Settings
) -> None:
    (settings.data_dir / VERIFICATION_FILE).write_text(
        '{"at": "2025-01-02T03:04:05+00:00", "by_kind": "cli", "by_account_id": null, '
        '"ok": false, "entries": 4, "first_broken_seq": 5, "reason": "entry missing", '
        '"anchor_seq": null}',
        encoding="utf-8",
    )
    page = auditor.get("/audit", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "entry missing" not in page
    assert "记录缺失" in page
