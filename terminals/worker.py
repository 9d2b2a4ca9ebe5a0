# SPDX-License-Identifier: GPL-2.0-or-later
"""``rollcall worker``: syncs every terminal at its own interval with a bounded thread pool.

A plain process, no broker. Each ``step()`` claims due terminals (one lease each, so several
workers on one or many hosts never sync the same terminal at once) up to the free threads
and returns whether it found work; the loop sleeps only when idle. A slow or dead terminal
occupies one thread and never delays the others; a failing one backs off. SIGTERM sets a
stop flag: running syncs finish their batch and the process exits.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from biometrics.keys import KeyEncryptionKey
from server.audit.services import (
    ANCHOR_FILE,
    Anchor,
    anchor_head_if_due,
    newest_anchor,
    read_anchors,
)
from server.db import utcnow
from server.devices import distribution
from server.devices.models import CommandState, Terminal, TerminalCommand
from server.rights import downloads, erasure
from terminals import leases, outbox
from terminals.base import TerminalClient, TerminalError
from terminals.outbox import WORKER
from terminals.sync import sync_terminal

logger = logging.getLogger(__name__)

ClientFactory = Callable[[Terminal], TerminalClient]

# How often waiting erasures are looked at: a terminal's confirmation shows up within this.
ERASURE_CHECK_SECONDS = 15.0
PURGE_EVERY_SECONDS = 24 * 3600.0
# How often the operation log's head is looked at for an anchor (server.audit.services
# ANCHOR_EVERY and ANCHOR_EVERY_ENTRIES decide when one is written) (#6 review).
ANCHOR_CHECK_SECONDS = 60.0


def default_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        connect: ClientFactory,
        *,
        name: str | None = None,
        threads: int = 8,
        lease_ttl: timedelta = leases.LEASE_TTL,
        clock: Callable[[], datetime] = utcnow,
        realtime: bool = False,
        kek: KeyEncryptionKey | None = None,
        reconcile_every: timedelta | None = distribution.RECONCILE_EVERY,
        data_dir: Path | None = None,
    ) -> None:
        self.sessions = sessions
        self.connect = connect
        self.name = name or default_name()
        self.threads = threads
        self.lease_ttl = lease_ttl
        self.clock = clock
        self.stop = threading.Event()
        # Realtime: each terminal's thread keeps a live capture open and stores every punch
        # as it happens, with a full sync at start and every interval to catch anything
        # missed. A terminal whose firmware breaks live capture falls back to polling.
        self.realtime = realtime
        # The instance key: templates pulled pass the gate into the vault, puts read it.
        self.kek = kek
        self.reconcile_every = reconcile_every
        self._next_reconcile_check = 0.0
        # Erasures waiting for terminals are advanced here (tombstones and exports live in
        # the data folder); without one, `rollcall rights erase` advances them.
        self.data_dir = data_dir
        self._next_erasure_check = 0.0
        self._next_purge = 0.0
        # Anchors of the operation log's head go to the data folder, beside those the
        # verification writes: a cut tail is caught even if nobody verified lately.
        self._next_anchor_check = 0.0
        self._last_anchor: Anchor | None = None
        self._anchors_read = False
        self._polling_only: set[int] = set()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rollcall-sync")
        self._running: dict[int, Future[None]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ scheduling
    def _free_slots(self) -> int:
        with self._lock:
            for tid in [t for t, f in self._running.items() if f.done()]:
                del self._running[tid]
            return self.threads - len(self._running)

    def step(self) -> bool:
        """Claim and start due terminals, up to the free threads. True if any was started."""
        slots = self._free_slots()
        if slots <= 0:
            return False
        now = self.clock()
        started = 0
        self._advance_erasures()
        if time.monotonic() >= self._next_anchor_check:
            self._next_anchor_check = time.monotonic() + ANCHOR_CHECK_SECONDS
            self.anchor_log()
        with self.sessions() as db:
            self._schedule_reconciliation(db, now)
            commands_due = (
                select(TerminalCommand.terminal_id)
                .where(
                    TerminalCommand.state == CommandState.PENDING.value,
                    or_(
                        TerminalCommand.next_attempt_at.is_(None),
                        TerminalCommand.next_attempt_at <= now,
                    ),
                )
                .scalar_subquery()
            )
            due = db.scalars(
                select(Terminal.id)
                .where(
                    Terminal.enabled.is_(True),
                    Terminal.transport.in_(("tcp", "udp")),
                    or_(
                        Terminal.next_attempt_at.is_(None),
                        Terminal.next_attempt_at <= now,
                        Terminal.id.in_(commands_due),
                    ),
                    or_(Terminal.lease_until.is_(None), Terminal.lease_until < now),
                )
                .order_by(Terminal.next_attempt_at.is_not(None), Terminal.next_attempt_at)
                .limit(slots * 2)
            ).all()
            for terminal_id in due:
                if started >= slots:
                    break
                with self._lock:
                    if terminal_id in self._running:
                        continue
                if not leases.claim(db, terminal_id, self.name, now, self.lease_ttl):
                    db.rollback()
                    continue  # another worker got it first
                db.commit()
                with self._lock:
                    self._running[terminal_id] = self._pool.submit(self._job, terminal_id)
                started += 1
        return started > 0

    def _schedule_reconciliation(self, db: Session, now: datetime) -> None:
        if self.reconcile_every is None or time.monotonic() < self._next_reconcile_check:
            return
        self._next_reconcile_check = time.monotonic() + 60
        if distribution.schedule_reconciliation(db, now=now, every=self.reconcile_every):
            db.commit()
        else:
            db.rollback()

    def _advance_erasures(self) -> None:
        if self.data_dir is None or time.monotonic() < self._next_erasure_check:
            return
        self._next_erasure_check = time.monotonic() + ERASURE_CHECK_SECONDS
        try:
            for outcome in erasure.resume_waiting(
                self.sessions, data_dir=self.data_dir, actor=WORKER
            ):
                if outcome.state == "completed":
                    logger.info("erasure %d completed", outcome.run_id)
            if time.monotonic() >= self._next_purge:
                self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS
                self._purge_expired(self.data_dir)
        except Exception:
            # An erasure that cannot advance must not stop synchronisation; it retries.
            logger.exception("advancing erasures failed")

    def anchor_log(self) -> Anchor | None:
        """Append the operation log's head to the anchor file once enough has been written
        since the last anchor, or the log has grown and the last anchor is older than
        ``ANCHOR_EVERY`` (#6 review). One read of the head row; the chain is not verified
        here. Returns the new anchor, if one was written."""
        if self.data_dir is None:
            return None
        path = self.data_dir / ANCHOR_FILE
        if not self._anchors_read:
            self._anchors_read = True
            try:
                self._last_anchor = newest_anchor(read_anchors(path))
            except (OSError, ValueError) as exc:
                # Appending still helps; the verification reports the damaged file.
                logger.error("the operation log's anchors cannot be read: %s", exc)
        try:
            with self.sessions() as db:
                anchor = anchor_head_if_due(db, path, last=self._last_anchor, now=self.clock())
                db.rollback()
        except Exception:
            # An unwritable anchor file must not stop synchronisation; it retries.
            logger.exception("anchoring the operation log failed")
            return None
        if anchor is not None:
            self._last_anchor = anchor
        return anchor

    def _purge_expired(self, data_dir: Path) -> None:
        """Daily: expired download files, and rows kept for erased employees whose
        retention has ended (``rollcall rights purge-expired`` does the same)."""
        with self.sessions() as db:
            files = downloads.purge_expired_downloads(db, data_dir=data_dir, actor=WORKER)
            rows = erasure.purge_expired(db, actor=WORKER)
            db.commit()
        if rows:
            erasure.scrub_storage(self.sessions, rows)
        if files or rows:
            logger.info(
                "retention: %d expired download(s), %d kept row(s) removed",
                files,
                sum(rows.values()),
            )

    def run(self, idle_sleep: float = 1.0) -> None:
        logger.info("worker %s started with %d threads", self.name, self.threads)
        try:
            while not self.stop.is_set():
                if not self.step():
                    self.stop.wait(idle_sleep)
        finally:
            self.shutdown()

    def run_once(self, timeout: float = 600.0) -> None:
        """Sync every due terminal once and wait for all of them (CLI ``--once``, tests)."""
        deadline = time.monotonic() + timeout
        self.step()
        while time.monotonic() < deadline:
            with self._lock:
                pending = [f for f in self._running.values() if not f.done()]
            if not pending:
                if not self.step():
                    # What the terminals just confirmed may let an erasure finish.
                    self._next_erasure_check = 0.0
                    self._advance_erasures()
                    return
                continue
            pending[0].result(timeout=max(0.0, deadline - time.monotonic()))

    def shutdown(self) -> None:
        self.stop.set()
        self._pool.shutdown(wait=True)
        logger.info("worker %s stopped", self.name)

    # ------------------------------------------------------------------ one sync
    def _job(self, terminal_id: int) -> None:
        if self.realtime and terminal_id not in self._polling_only:
            self._live_job(terminal_id)
        else:
            self._sync_job(terminal_id)

    def _live_job(self, terminal_id: int) -> None:
        from terminals.realtime import run_live

        try:
            fell_back = run_live(self, terminal_id)
        except Exception:
            logger.exception(
                "worker %s: live capture of terminal %d failed", self.name, terminal_id
            )
            fell_back = True
        if fell_back:
            self._polling_only.add(terminal_id)
        with self.sessions() as db:
            leases.release(db, terminal_id, self.name)
            db.commit()

    def _sync_job(self, terminal_id: int) -> None:
        last_renew = time.monotonic()

        with self.sessions() as db:
            terminal = db.get(Terminal, terminal_id)
            if terminal is None:
                return

            def renew(_phase: str, _done: int, _total: int) -> None:
                # Progress points fall between committed batches: renewing and committing
                # here holds no write lock across a network read.
                nonlocal last_renew
                if time.monotonic() - last_renew < self.lease_ttl.total_seconds() / 3:
                    return
                if not leases.renew(db, terminal_id, self.name, self.clock(), self.lease_ttl):
                    raise TerminalError("lease lost to another worker; stopping this sync")
                db.commit()
                last_renew = time.monotonic()

            try:
                due = terminal.next_attempt_at is None or terminal.next_attempt_at <= self.clock()
                if due:
                    sync_terminal(
                        db,
                        terminal,
                        self.connect(terminal),
                        worker=self.name,
                        progress=renew,
                        clock=self.clock,
                        kek=self.kek,
                    )
                # The outbox runs after the sync, on its own connection: a failed sync
                # already pushed the terminal back, and its commands back off on their own.
                if outbox.has_due_commands(db, terminal_id, self.clock()):
                    outbox.run_commands(
                        db, terminal, self.connect(terminal), kek=self.kek, clock=self.clock
                    )
            except TerminalError:
                pass  # recorded on the run and the terminal by sync_terminal
            except Exception:
                # A bug, not a terminal fault: push the next attempt back first so the
                # terminal cannot crash-loop, then log with the traceback.
                db.rollback()
                db.execute(
                    update(Terminal)
                    .where(Terminal.id == terminal_id)
                    .values(
                        next_attempt_at=self.clock() + timedelta(minutes=15),
                        last_error="internal error; see the worker log",
                    )
                )
                db.commit()
                logger.exception("worker %s: sync of terminal %d failed", self.name, terminal_id)
            finally:
                db.rollback()
                leases.release(db, terminal_id, self.name)
                db.commit()
