# SPDX-License-Identifier: GPL-2.0-or-later
"""Realtime mode: punches stored the moment they are made, polling as the safety net (#4).

Under the terminal's lease, one worker thread: syncs the terminal in full (catch-up), opens a
live capture (REG_EVENT), stores each punch as it arrives through the same idempotent ingest
as a sync, renews the lease, and every sync interval closes the capture for another full sync
(events are not replayed by terminals, so anything missed during a reconnect comes back this
way). When outbox commands fall due the capture is closed within seconds to run them. A
terminal that drops the connection backs off like any failed sync; one whose firmware sends
events pyzk cannot read falls back to plain polling for the life of the worker.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from server.devices.models import Terminal
from terminals import leases, outbox
from terminals.base import (
    DevicePunch,
    TerminalError,
    TerminalProtocolError,
)
from terminals.sync import ingest_punches, sync_terminal

if TYPE_CHECKING:
    from terminals.worker import Worker

logger = logging.getLogger(__name__)

POLL_S = 1.0
OUTBOX_CHECK_S = 5.0


def run_live(worker: Worker, terminal_id: int) -> bool:
    """Serve one terminal live until the worker stops. True: fall back to polling."""
    resync_at = 0.0
    with worker.sessions() as db:
        while not worker.stop.is_set():
            terminal = db.get(Terminal, terminal_id)
            if terminal is None or not terminal.enabled:
                return False
            try:
                if time.monotonic() >= resync_at:
                    sync_terminal(
                        db,
                        terminal,
                        worker.connect(terminal),
                        trigger="realtime",
                        worker=worker.name,
                        clock=worker.clock,
                        kek=worker.kek,
                    )
                    resync_at = time.monotonic() + terminal.sync_interval_s
                # Commands wait for no interval: the capture is paused to run them.
                if outbox.has_due_commands(db, terminal_id, worker.clock()):
                    outbox.run_commands(
                        db, terminal, worker.connect(terminal), kek=worker.kek, clock=worker.clock
                    )
                db.commit()
            except TerminalError:
                return False  # recorded and backed off by sync_terminal; the schedule retries
            client = worker.connect(terminal)
            renew_at = time.monotonic() + worker.lease_ttl.total_seconds() / 3
            outbox_check_at = time.monotonic() + OUTBOX_CHECK_S
            stored = 0
            try:
                with client:
                    for event in client.live_events(POLL_S):
                        now_mono = time.monotonic()
                        if worker.stop.is_set() or now_mono >= resync_at:
                            client.stop_live()  # the generator unregisters and ends
                        if now_mono >= renew_at:
                            if not leases.renew(
                                db, terminal_id, worker.name, worker.clock(), worker.lease_ttl
                            ):
                                logger.warning("terminal %d: live lease lost", terminal_id)
                                client.stop_live()
                            db.commit()
                            renew_at = now_mono + worker.lease_ttl.total_seconds() / 3
                        if now_mono >= outbox_check_at:
                            outbox_check_at = now_mono + OUTBOX_CHECK_S
                            due = outbox.has_due_commands(db, terminal_id, worker.clock())
                            db.commit()
                            if due:
                                client.stop_live()
                        if event is None:
                            continue
                        punch = DevicePunch(
                            event.pin, event.device_time, event.verify_type, event.punch_state
                        )
                        counts = ingest_punches(
                            db, terminal, [punch], now=worker.clock(), run_id=None
                        )
                        db.commit()
                        stored += counts.new + counts.quarantined
            except TerminalProtocolError as err:
                db.rollback()
                logger.warning(
                    "terminal %s: live capture unusable (%s); polling instead",
                    terminal.serial_number,
                    err,
                )
                return True
            except TerminalError as err:
                db.rollback()
                logger.warning("terminal %s: live capture lost (%s)", terminal.serial_number, err)
                return False
            logger.info("terminal %s: %d punches stored live", terminal.serial_number, stored)
    return False
