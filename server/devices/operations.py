# SPDX-License-Identifier: GPL-2.0-or-later
"""What the terminal pages read and ask for (issue #6): the fleet at a glance, a sync
requested for the worker and its progress, a connection test.

"Sync now" from the web does not sync in the request: it makes the terminal due, and the
worker (which holds the terminal's lease) runs it within a second or two; the page follows
the run's progress, which the sync writes on its row (``terminals.sync``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import ColumnClause, func, literal_column, select
from sqlalchemy.orm import Session

from biometrics.keys import KeyEncryptionKey
from server.attendance.models import Punch
from server.audit.services import Actor, record_event
from server.db import utcnow
from server.devices import distribution
from server.devices.models import PinMapping, SyncRun, Terminal
from server.devices.services import describe_terminal_error, get_terminal, is_online
from server.errors import ConflictError
from terminals.base import TerminalClient, TerminalError
from terminals.connect import client_for
from terminals.sync import CLOCK_ALERT_S

ClientFor = Callable[[Terminal, KeyEncryptionKey | None], TerminalClient]

BINARY = ("tcp", "udp")
# A connection test must answer quickly or say so: the page is waiting on it.
TEST_TIMEOUT_S = 5.0
# The partial index ix_punches_quarantined is chosen only for this literal condition.
QUARANTINED: ColumnClause[str] = literal_column("'quarantined'")


@dataclass(frozen=True, slots=True)
class TerminalOverview:
    terminal: Terminal
    online: bool
    clock_alert: bool
    outbox: distribution.OutboxSummary | None
    last_run: SyncRun | None


def latest_runs(db: Session, terminal_ids: list[int] | None = None) -> dict[int, SyncRun]:
    """The newest sync run of each terminal (one query)."""
    newest = select(func.max(SyncRun.id)).group_by(SyncRun.terminal_id)
    if terminal_ids is not None:
        newest = newest.where(SyncRun.terminal_id.in_(terminal_ids))
    return {r.terminal_id: r for r in db.scalars(select(SyncRun).where(SyncRun.id.in_(newest)))}


def clock_alert(terminal: Terminal) -> bool:
    return terminal.clock_offset_s is not None and abs(terminal.clock_offset_s) > CLOCK_ALERT_S


def fleet(db: Session, now: datetime | None = None) -> list[TerminalOverview]:
    """Every terminal with its state, newest run and outbox, by name."""
    now = now or utcnow()
    terminals = list(db.scalars(select(Terminal).order_by(Terminal.name, Terminal.id)))
    runs = latest_runs(db)
    outbox = distribution.outbox_summary(db)
    return [
        TerminalOverview(
            terminal=t,
            online=is_online(t, now),
            clock_alert=clock_alert(t),
            outbox=outbox.get(t.id),
            last_run=runs.get(t.id),
        )
        for t in terminals
    ]


def recent_runs(db: Session, terminal_id: int, limit: int = 10) -> list[SyncRun]:
    return list(
        db.scalars(
            select(SyncRun)
            .where(SyncRun.terminal_id == terminal_id)
            .order_by(SyncRun.id.desc())
            .limit(limit)
        )
    )


# --------------------------------------------------------------------------- sync now
def request_sync(
    db: Session, terminal_id: int, *, actor: Actor, now: datetime | None = None
) -> int | None:
    """Make the terminal due now, for the worker; returns the id of its newest run before
    the request (the page waits for a newer one). Flushes and audits; the caller commits."""
    now = now or utcnow()
    terminal = get_terminal(db, terminal_id)
    if terminal.transport not in BINARY:
        raise ConflictError(
            _("This terminal sends its punches by itself (ADMS push); there is nothing to fetch."),
            code="push_terminal",
        )
    if not terminal.enabled:
        raise ConflictError(_("The terminal is switched off in Rollcall."), code="disabled")
    before = db.scalar(select(func.max(SyncRun.id)).where(SyncRun.terminal_id == terminal.id))
    terminal.next_attempt_at = now
    db.flush()
    record_event(
        db,
        "terminal.sync_requested",
        actor=actor,
        object_type="terminal",
        object_id=terminal.id,
        details={"after_run": before},
    )
    return before


@dataclass(frozen=True, slots=True)
class SyncProgress:
    state: str  # idle, queued, running, ok, unchanged, failed, stalled
    run_id: int | None
    phase: str | None
    done: int
    total: int
    percent: int
    records_read: int
    punches_new: int
    error: str | None
    finished_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "run": self.run_id,
            "phase": self.phase,
            "done": self.done,
            "total": self.total,
            "percent": self.percent,
            "records_read": self.records_read,
            "punches_new": self.punches_new,
            "error": self.error,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "finished": self.state in ("ok", "unchanged", "failed", "stalled"),
        }


# Share of the bar per phase: connecting is quick, reading the log takes most of a sync.
_PHASES = {"connect": (0, 5), "read": (5, 75), "ingest": (75, 99)}


def _percent(run: SyncRun) -> int:
    if run.status != "running":
        return 100
    start, end = _PHASES.get(run.progress_phase or "connect", (0, 5))
    done, total = run.progress_done or 0, run.progress_total or 0
    share = done / total if total > 0 else 0.0
    return int(start + (end - start) * min(share, 1.0))


def sync_progress(
    db: Session, terminal_id: int, *, after_run: int | None = None, now: datetime | None = None
) -> SyncProgress:
    """The progress of the terminal's newest sync run newer than ``after_run``; "queued"
    while the worker has not started one after a request, "idle" when none is asked for."""
    now = now or utcnow()
    terminal = get_terminal(db, terminal_id)
    query = select(SyncRun).where(SyncRun.terminal_id == terminal.id)
    if after_run is not None:
        query = query.where(SyncRun.id > after_run)
    run = db.scalar(query.order_by(SyncRun.id.desc()).limit(1))
    if run is None:
        due = terminal.next_attempt_at is not None and terminal.next_attempt_at <= now
        return SyncProgress("queued" if due else "idle", None, None, 0, 0, 0, 0, 0, None, None)
    state = run.status
    if state == "running" and (terminal.lease_until is None or terminal.lease_until < now):
        state = "stalled"  # its worker stopped before finishing (the next sync resumes)
    return SyncProgress(
        state=state,
        run_id=run.id,
        phase=run.progress_phase,
        done=run.progress_done or 0,
        total=run.progress_total or 0,
        percent=_percent(run),
        records_read=run.records_read or 0,
        punches_new=run.punches_new or 0,
        error=run.error,
        finished_at=run.finished_at,
    )


# --------------------------------------------------------------------------- test connection
@dataclass(frozen=True, slots=True)
class ConnectionReport:
    ok: bool
    serial: str | None = None
    firmware: str | None = None
    records: int | None = None
    users: int | None = None
    clock_offset_s: float | None = None
    elapsed_ms: int = 0
    error: str | None = None


class _PushTerminalError(Exception):
    """An ADMS push terminal calls us; there is no connection of ours to test."""


def _default_client(terminal: Terminal, kek: KeyEncryptionKey | None) -> TerminalClient:
    return client_for(terminal, kek, timeout_s=TEST_TIMEOUT_S)


def check_connection(
    db: Session,
    terminal_id: int,
    *,
    kek: KeyEncryptionKey | None,
    actor: Actor,
    connect: ClientFor = _default_client,
) -> ConnectionReport:
    """Connect, read who answers, its counts and clock; nothing on the terminal changes.
    A different serial at the address is reported as a failure. Audited either way."""
    terminal = get_terminal(db, terminal_id)
    started = time.perf_counter()
    report: ConnectionReport
    try:
        if terminal.transport not in BINARY:
            raise _PushTerminalError
        with connect(terminal, kek) as client:
            info = client.info()
            sizes = client.sizes()
            device_now = client.get_time()
        offset = (device_now.replace(tzinfo=ZoneInfo(terminal.timezone)) - utcnow()).total_seconds()
        elapsed = int((time.perf_counter() - started) * 1000)
        if info.serial_number != terminal.serial_number:
            report = ConnectionReport(
                False,
                serial=info.serial_number,
                elapsed_ms=elapsed,
                error=_(
                    "Terminal %(found)s answered at this address, not %(expected)s.",
                    found=info.serial_number,
                    expected=terminal.serial_number,
                ),
            )
        else:
            report = ConnectionReport(
                True,
                serial=info.serial_number,
                firmware=info.firmware,
                records=sizes.records,
                users=sizes.users,
                clock_offset_s=round(offset, 1),
                elapsed_ms=elapsed,
            )
    except _PushTerminalError:
        report = ConnectionReport(
            False,
            error=_(
                "This terminal calls Rollcall by itself (ADMS push); there is no link to test."
            ),
        )
    except TerminalError as err:
        report = ConnectionReport(
            False,
            elapsed_ms=int((time.perf_counter() - started) * 1000),
            error=describe_terminal_error(err),
        )
    record_event(
        db,
        "terminal.connection_tested",
        actor=actor,
        object_type="terminal",
        object_id=terminal.id,
        details={"ok": report.ok, "elapsed_ms": report.elapsed_ms},
    )
    return report


# --------------------------------------------------------------------------- what needs a hand
def pending_pins(db: Session, terminal_id: int | None = None) -> list[PinMapping]:
    """PINs seen on terminals that nobody holds yet, with how many punches wait on each."""
    query = select(PinMapping).where(PinMapping.employee_id.is_(None))
    if terminal_id is not None:
        query = query.where(PinMapping.terminal_id == terminal_id)
    return list(db.scalars(query.order_by(PinMapping.terminal_id, PinMapping.pin)))


def waiting_punches(db: Session, pins: list[PinMapping]) -> dict[int, int]:
    """How many unassigned punches each pending mapping would take (by mapping id)."""
    out: dict[int, int] = {}
    serials = {row[0]: row[1] for row in db.execute(select(Terminal.id, Terminal.serial_number))}
    for mapping in pins:
        if mapping.terminal_id is None:
            continue  # pending mappings name their terminal; an organization-wide one is held
        # The natural key's index (serial, PIN, device time) answers this.
        out[mapping.id] = (
            db.scalar(
                select(func.count())
                .select_from(Punch)
                .where(
                    Punch.terminal_serial == serials.get(mapping.terminal_id, ""),
                    Punch.pin == mapping.pin,
                    Punch.employee_id.is_(None),
                )
            )
            or 0
        )
    return out


def quarantined(
    db: Session, *, serial: str | None = None, employee_clause: Any = None, limit: int = 50
) -> list[Punch]:
    """Quarantined punches, newest first (through the partial index)."""
    query = select(Punch).where(Punch.status == QUARANTINED)
    if serial is not None:
        query = query.where(Punch.terminal_serial == serial)
    if employee_clause is not None:
        query = query.where(employee_clause)
    return list(db.scalars(query.order_by(Punch.occurred_at.desc(), Punch.id.desc()).limit(limit)))


def count_quarantined(db: Session) -> int:
    return (
        db.scalar(select(func.count()).select_from(Punch).where(Punch.status == QUARANTINED)) or 0
    )
