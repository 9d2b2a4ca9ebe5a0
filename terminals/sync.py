# SPDX-License-Identifier: GPL-2.0-or-later
"""One sync of one terminal: read, ingest idempotently, commit, and only then clear (issue #4).

``sync_terminal`` is a job, not a service: it commits. Punches go in by bulk insert that
ignores conflicts on (serial, PIN, device time), in batches each committed on its own, so a
crash at any point loses nothing and a re-run duplicates nothing. The terminal's log is
cleared (when its admin asked for that) only after every record read is committed, with the
terminal disabled, and only if its record count did not move in between.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from biometrics.keys import KeyEncryptionKey
from server.attendance.models import Punch, PunchSource, PunchStatus
from server.db import insert_ignoring_conflicts, utcnow
from server.devices.models import PinMapping, SyncRun, Terminal
from server.employees.models import Employee
from terminals.base import (
    DevicePunch,
    DeviceUser,
    TerminalClient,
    TerminalError,
    TerminalIdentityError,
)

logger = logging.getLogger(__name__)

# Each batch is one transaction: big enough that a commit rewrites each index page once
# (SQLite WAL), small enough that the write lock is held well under a second.
BATCH = 25_000
ROW_COLUMNS = (
    "terminal_serial",
    "pin",
    "employee_id",
    "device_time",
    "occurred_at",
    "timezone",
    "verify_type",
    "punch_state",
    "work_code",
    "source",
    "status",
    "quarantine_reason",
    "received_at",
    "sync_run_id",
)
# Punches are plausible from 2001 on: terminals reset to 2000-01-01 after a power loss.
EARLIEST_PLAUSIBLE = datetime(2001, 1, 1)
FUTURE_TOLERANCE = timedelta(days=1)
CLOCK_ALERT_S = 120.0
# Before any mapping existed: mappings made automatically cover the terminal's whole past.
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)

Progress = Callable[[str, int, int], None]


@dataclass
class IngestCounts:
    read: int = 0
    new: int = 0
    duplicate: int = 0
    quarantined: int = 0
    pending_pins: set[str] = field(default_factory=set)


def local_to_utc(device_time: datetime, zone: ZoneInfo) -> datetime:
    """A terminal's wall-clock reading as an instant. In the repeated hour of a DST change
    the first occurrence is taken (the terminal records no offset to tell them apart)."""
    return device_time.replace(tzinfo=zone, fold=0).astimezone(UTC)


class LocalToUtc:
    """``local_to_utc`` for many readings: the zone's offset is looked up once per quarter
    hour of local time (zones change offset on quarter-hour boundaries), not per punch."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._offsets: dict[tuple[int, int, int, int, int], timedelta] = {}

    def __call__(self, t: datetime) -> datetime:
        key = (t.year, t.month, t.day, t.hour, t.minute // 15)
        offset = self._offsets.get(key)
        if offset is None:
            start = t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)
            offset = start.replace(tzinfo=self.zone, fold=0).utcoffset() or timedelta(0)
            self._offsets[key] = offset
        return (t - offset).replace(tzinfo=UTC)


def quarantine_reason(
    punch: DevicePunch, occurred_at: datetime, *, now: datetime, installed_at: datetime | None
) -> str | None:
    if not punch.time_valid:
        return "impossible date on the terminal (day past the end of the month)"
    if punch.device_time < EARLIEST_PLAUSIBLE:
        return "terminal clock reset (year 2000 default)"
    if installed_at is not None and occurred_at < installed_at - timedelta(days=1):
        return "before the terminal was installed"
    if occurred_at > now + FUTURE_TOLERANCE:
        return "more than a day in the future"
    return None


class PinResolver:
    """PIN -> employee at an instant, through ``pin_mappings`` (terminal-specific first).

    A PIN never seen before is mapped to the employee whose employee code it is (the usual
    set-up), or else gets a pending mapping for an admin to assign; its punches are kept.
    """

    def __init__(self, db: Session, terminal: Terminal, now: datetime) -> None:
        self.db = db
        self.terminal = terminal
        self.now = now
        # pin -> [(terminal-wide?, valid_from, valid_until, employee_id)], terminal-specific
        # first: plain tuples, because this is asked once per punch.
        self._ranges: dict[str, list[tuple[bool, datetime, datetime | None, int | None]]] = {}
        self.pending: set[str] = set()

    def load(self, pins: Iterable[str], names: dict[str, str]) -> None:
        wanted = sorted(set(pins))
        for chunk in _chunks(wanted, 500):
            rows = self.db.scalars(
                select(PinMapping).where(
                    PinMapping.pin.in_(chunk),
                    (PinMapping.terminal_id == self.terminal.id) | PinMapping.terminal_id.is_(None),
                )
            ).all()
            for row in rows:
                self._ranges.setdefault(row.pin, []).append(
                    (row.terminal_id is None, row.valid_from, row.valid_until, row.employee_id)
                )
        unknown = [pin for pin in wanted if pin not in self._ranges]
        employees: dict[str, int] = {}
        for chunk in _chunks(unknown, 500):
            employees.update(
                self.db.execute(
                    select(Employee.employee_code, Employee.id).where(
                        Employee.employee_code.in_(chunk), Employee.erased_at.is_(None)
                    )
                ).all()
            )
        if unknown:
            new: list[dict[str, Any]] = [
                {
                    "terminal_id": None if pin in employees else self.terminal.id,
                    "pin": pin,
                    "employee_id": employees.get(pin),
                    "valid_from": BEGINNING,
                    "valid_until": None,
                    "device_name": None if pin in employees else names.get(pin),
                    "created_at": self.now,
                }
                for pin in unknown
            ]
            self.db.execute(insert(PinMapping), new)
            for entry in new:
                self._ranges[entry["pin"]] = [
                    (entry["terminal_id"] is None, BEGINNING, None, entry["employee_id"])
                ]
        # Terminal-specific mappings win over organization-wide ones.
        for ranges in self._ranges.values():
            ranges.sort(key=lambda r: (r[0], r[1]))

    def employee_at(self, pin: str, instant: datetime) -> int | None:
        for _wide, start, until, employee_id in self._ranges.get(pin, ()):
            if start <= instant and (until is None or instant < until):
                if employee_id is None:
                    self.pending.add(pin)
                return employee_id
        self.pending.add(pin)
        return None


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def ingest_punches(
    db: Session,
    terminal: Terminal,
    punches: Sequence[DevicePunch],
    *,
    users: Sequence[DeviceUser] = (),
    now: datetime,
    run_id: int | None,
    source: PunchSource = PunchSource.PULL,
    commit_each_batch: bool = True,
    progress: Progress | None = None,
) -> IngestCounts:
    """Store ``punches`` read from ``terminal``; safe to call again with the same records."""
    counts = IngestCounts(read=len(punches))
    zone = ZoneInfo(terminal.timezone)
    resolver = PinResolver(db, terminal, now)
    resolver.load((p.pin for p in punches), {u.pin: u.name for u in users})
    if commit_each_batch:
        db.commit()
    table = Punch.__table__
    key = ("terminal_serial", "pin", "device_time")
    # Read once: ORM attribute access per row costs more than the rest of the loop.
    serial, zone_name, installed = terminal.serial_number, terminal.timezone, terminal.installed_at
    source_value, ok, held = source.value, PunchStatus.OK.value, PunchStatus.QUARANTINED.value
    employee_at = resolver.employee_at
    to_utc = LocalToUtc(zone)
    done = 0
    for batch in _chunks(punches, BATCH):
        ok_rows: list[tuple[Any, ...]] = []
        quarantined_rows: list[tuple[Any, ...]] = []
        for p in batch:
            occurred = to_utc(p.device_time)
            reason = quarantine_reason(p, occurred, now=now, installed_at=installed)
            # In ROW_COLUMNS order: rows as tuples save building a dict per punch.
            row = (
                serial,
                p.pin,
                employee_at(p.pin, occurred),
                p.device_time,
                occurred,
                zone_name,
                p.verify_type,
                p.punch_state,
                p.work_code,
                source_value,
                held if reason else ok,
                reason,
                now,
                run_id,
            )
            (quarantined_rows if reason else ok_rows).append(row)
        counts.new += insert_ignoring_conflicts(
            db, table, ok_rows, conflict_columns=key, columns=ROW_COLUMNS
        )
        counts.quarantined += insert_ignoring_conflicts(
            db, table, quarantined_rows, conflict_columns=key, columns=ROW_COLUMNS
        )
        if commit_each_batch:
            db.commit()
        done += len(batch)
        if progress is not None:
            progress("ingest", done, len(punches))
    counts.duplicate = counts.read - counts.new - counts.quarantined
    counts.pending_pins = resolver.pending
    return counts


# The web page polls the run row; a few writes a second are plenty for a progress bar.
PROGRESS_EVERY_S = 0.5


def recording_progress(
    db: Session, run: SyncRun, progress: Progress | None, every_s: float | None = None
) -> Progress:
    """``progress``, plus the phase and counts written on the run row (for the terminal
    page's progress bar, issue #6): on every change of phase, at the end of each phase, and
    otherwise at most every ``every_s``. Progress points fall between committed batches or
    inside a network read, so the short commit holds no write lock across either."""
    last = {"at": 0.0}
    every = PROGRESS_EVERY_S if every_s is None else every_s

    def report(phase: str, done: int, total: int) -> None:
        moment = time.monotonic()
        if phase != run.progress_phase or done >= total or moment - last["at"] >= every:
            run.progress_phase, run.progress_done, run.progress_total = phase, done, total
            db.commit()
            last["at"] = moment
        if progress is not None:
            progress(phase, done, total)

    return report


def _clock_offset(device_now: datetime, zone: ZoneInfo, now: datetime) -> float:
    return (local_to_utc(device_now, zone) - now).total_seconds()


def sync_terminal(
    db: Session,
    terminal: Terminal,
    client: TerminalClient,
    *,
    trigger: str = "schedule",
    worker: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
    clock: Callable[[], datetime] = utcnow,
    kek: KeyEncryptionKey | None = None,
) -> SyncRun:
    """Sync one terminal through ``client`` (not yet connected); commits as it goes.

    With ``kek`` (and biometrics switched on) fingerprint templates are read too when the
    terminal's user or template count moved, and pass the consent gate.

    Raises the ``TerminalError`` that stopped it, after recording the failed run and the
    terminal's health (next attempt pushed back first, so a bad terminal cannot spin).
    """
    started = time.perf_counter()
    now = clock()
    run = SyncRun(
        terminal_id=terminal.id,
        trigger=trigger,
        worker=worker,
        status="running",
        started_at=now,
        progress_phase="connect",
        progress_done=0,
        progress_total=0,
    )
    db.add(run)
    db.commit()
    try:
        _sync(
            db,
            terminal,
            client,
            run,
            force=force,
            progress=recording_progress(db, run, progress),
            now=now,
            clock_now=clock,
            kek=kek,
        )
    except TerminalError as err:
        db.rollback()
        _record_failure(db, terminal, run, err, now=clock())
        run.duration_ms = int((time.perf_counter() - started) * 1000)
        db.commit()
        raise
    except BaseException:
        db.rollback()
        raise
    run.finished_at = clock()
    run.duration_ms = int((time.perf_counter() - started) * 1000)
    terminal.last_success_at = run.finished_at
    terminal.last_seen_at = run.finished_at
    terminal.last_error = None
    terminal.consecutive_failures = 0
    terminal.next_attempt_at = run.finished_at + timedelta(seconds=terminal.sync_interval_s)
    db.commit()
    return run


def _sync(
    db: Session,
    terminal: Terminal,
    client: TerminalClient,
    run: SyncRun,
    *,
    force: bool,
    progress: Progress | None,
    now: datetime,
    clock_now: Callable[[], datetime],
    kek: KeyEncryptionKey | None = None,
) -> None:
    zone = ZoneInfo(terminal.timezone)
    with client:
        info = client.info()
        if info.serial_number != terminal.serial_number:
            raise TerminalIdentityError(
                f"terminal {terminal.serial_number} expected at {terminal.host}:{terminal.port}"
                f" but {info.serial_number} answered; sync stopped to keep their data apart",
                expected=terminal.serial_number,
                found=info.serial_number,
            )
        sizes = client.sizes()
        run.device_record_count = sizes.records
        offset = _clock_offset(client.get_time(), zone, now)
        run.clock_offset_s = round(offset, 1)
        if abs(offset) > CLOCK_ALERT_S:
            if terminal.auto_set_clock:
                # Set only when asked per terminal: some sites keep clocks deliberately.
                client.set_time(now.astimezone(zone).replace(tzinfo=None))
                offset = _clock_offset(client.get_time(), zone, clock_now())
                logger.info(
                    "terminal %s: clock set (was off by %.0f s)",
                    terminal.serial_number,
                    run.clock_offset_s,
                )
            else:
                logger.warning("terminal %s: clock off by %.0f s", terminal.serial_number, offset)
        terminal.clock_offset_s = round(offset, 1)
        # Clearing the log: at every sync when the terminal is set so, or once when an
        # erasure asked for it (a terminal cannot delete one person's records).
        clearing = terminal.clear_after_sync or terminal.log_clear_requested_at is not None
        if clearing and sizes.records == 0:
            _log_cleared(terminal, now)  # nothing in it: as good as cleared
        unchanged = (
            not force
            and terminal.last_success_at is not None
            and sizes.records == terminal.last_record_count
            and sizes.users == terminal.last_user_count
            and sizes.fingers == terminal.last_template_count
            # A log left uncleared last time (it moved under us) still needs clearing.
            and not (clearing and sizes.records > 0)
        )
        if unchanged:
            run.status = "unchanged"
            return
        if sizes.records_full:
            # A full terminal refuses new punches: tell the admin (clearing is their call).
            logger.warning(
                "terminal %s: attendance memory full (%d of %d records)",
                terminal.serial_number,
                sizes.records,
                sizes.records_capacity,
            )
        if clearing:
            # Nobody can punch while we read and clear: nothing falls between the two.
            client.disable()
        users = client.users()
        run.users_read = len(users)
        if progress is not None:
            progress("read", 0, sizes.records)
            punches = client.punches(
                users, progress=lambda done, total: progress("read", done, total)
            )
        else:
            punches = client.punches(users)
        run.records_read = len(punches)
        if progress is not None:
            progress("read", len(punches), max(sizes.records, len(punches)))
        counts = ingest_punches(
            db, terminal, punches, users=users, now=now, run_id=run.id, progress=progress
        )
        run.punches_new, run.punches_duplicate = counts.new, counts.duplicate
        run.punches_quarantined = counts.quarantined
        record_count = len(punches)
        if clearing and punches:
            # Everything read is committed (ingest commits each batch). Clear only if the
            # log still holds exactly what we read.
            now_count = client.sizes().records
            if now_count == len(punches):
                client.clear_punches()
                run.cleared = True
                record_count = 0
                _log_cleared(terminal, now)
            else:
                logger.warning(
                    "terminal %s: %d records before clearing, %d read; not cleared",
                    terminal.serial_number,
                    now_count,
                    len(punches),
                )
                record_count = now_count
        if kek is not None and (
            force
            or sizes.fingers != terminal.last_template_count
            or sizes.users != terminal.last_user_count
        ):
            _pull_templates(db, terminal, client, users, run, kek=kek, now=now)
        terminal.last_record_count = record_count
        terminal.last_user_count = sizes.users
        terminal.last_template_count = sizes.fingers
        terminal.firmware = info.firmware or terminal.firmware
        remember_layouts(terminal, client)
        run.status = "ok"


def _log_cleared(terminal: Terminal, now: datetime) -> None:
    if terminal.log_clear_requested_at is not None:
        logger.info("terminal %s: attendance log cleared, as asked", terminal.serial_number)
    terminal.log_cleared_at = now
    terminal.log_clear_requested_at = None


def remember_layouts(terminal: Terminal, client: TerminalClient) -> None:
    """Keep the record layouts a session learned: they settle a read whose count moved, and
    tell the name length a black-and-white terminal holds."""
    caps = dict(terminal.capabilities or {})
    learned = {k: getattr(client, k, None) for k in ("user_size", "record_size")}
    caps.update({k: v for k, v in learned.items() if v})
    if caps != terminal.capabilities:
        terminal.capabilities = caps


def _pull_templates(
    db: Session,
    terminal: Terminal,
    client: TerminalClient,
    users: Sequence[DeviceUser],
    run: SyncRun,
    *,
    kek: KeyEncryptionKey,
    now: datetime,
) -> None:
    from server.audit.services import Actor
    from terminals.templates import absorb_templates, biometrics_enabled

    if not biometrics_enabled(db):
        return  # switched off: Rollcall does not read or keep templates at all
    templates = client.templates()
    run.templates_read = len(templates)
    counts = absorb_templates(
        db, terminal, users, templates, kek=kek, actor=Actor.system("sync"), now=now
    )
    if counts.refused:
        logger.warning(
            "terminal %s: %d templates refused by the consent gate (%d deletes queued)",
            terminal.serial_number,
            counts.refused,
            counts.deletes_queued,
        )


def _record_failure(
    db: Session, terminal: Terminal, run: SyncRun, err: TerminalError, *, now: datetime
) -> None:
    # Push the next attempt back before anything else, so a terminal that fails in a way
    # that also breaks logging or bookkeeping cannot make the worker spin on it.
    failures = terminal.consecutive_failures + 1
    backoff = min(terminal.sync_interval_s * 2 ** min(failures - 1, 6), 3600)
    terminal.consecutive_failures = failures
    terminal.next_attempt_at = now + timedelta(seconds=backoff)
    terminal.last_error = f"{type(err).__name__}: {err}"[:1000]
    run.status = "failed"
    run.error = terminal.last_error
    run.finished_at = now
    logger.warning(
        "terminal %s: sync failed (%d in a row): %s", terminal.serial_number, failures, err
    )
