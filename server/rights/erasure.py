# SPDX-License-Identifier: GPL-2.0-or-later
"""Erasure (GDPR 17, PIPL 47; issue #7, C13), driven by the personal-data inventory.

An erasure is a fixed list of steps, planned once and stored with the run:

1. ``terminals``: the employee is deleted (user record and templates) from every binary
   terminal through the command outbox, under the reference ``erasure:<run>``; pending puts
   and enrolments of them are superseded. This comes first, while their PINs are known.
2. ``exports``: files produced for the employee (access packages) are removed.
3. one step per table that holds data about the employee, in dependency order, doing what
   the inventory declares for its columns: delete the rows, anonymize the values, or keep
   them restricted until their retention ends (time records kept under a legal obligation).
   The employee's data key goes with ``data_keys``: what the vault held cannot be opened again.
4. ``employee``: the profile is anonymized; the row stays as an anonymous anchor for what is
   kept, marked erased and restricted.
5. ``wait``: the run waits until every terminal has confirmed its delete (read back).
6. ``commands``: the outbox rows about the employee (which hold their PINs) are deleted.
7. ``receipt``: what was removed or anonymized where, counts and terminal confirmations; its
   SHA-256 goes into the operation log, so the receipt is chained into it.
8. ``tombstone``: the run is appended to a file outside the database (identifiers only), so
   that restoring an older backup can replay the erasure (:func:`replay_tombstones`).

Each step does its work and moves the run's ``next_step`` in one transaction: a crash leaves
a step done and recorded, or not done at all, and :func:`run_erasure` resumes at the first
step not done. After the last step the SQLite write-ahead log is checkpointed and truncated;
with ``secure_delete`` on (server/db.py), freed pages are zeroed, so erased values are in
neither the database file nor its WAL.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from flask_babel import gettext as _
from sqlalchemy import Column, Engine, Table, delete, exists, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from server.audit.services import Actor, record_event
from server.db import Base, reclaim_storage, rowcount, utcnow
from server.devices import distribution
from server.devices.models import CommandKind, CommandState, Terminal, TerminalCommand
from server.employees.models import Employee, EmployeeStatus
from server.errors import ConflictError, NotFoundError, ValidationError
from server.inventory import Erasure, PersonalData, declaration
from server.rights import services as register
from server.rights.models import (
    Download,
    ErasureRun,
    ErasureState,
    RequestKind,
    RequestStatus,
    SubjectRequest,
)

logger = logging.getLogger(__name__)

TOMBSTONE_FILE = "erasure-tombstones.jsonl"

# Tables never touched row by row: the operation log is a hash chain (deleting one entry
# would break it) and holds identifiers only; it is pruned as a whole by its own retention.
CHAINED_TABLES = frozenset({"audit_events", "audit_head"})

# Handled by their own steps: outbox rows after the terminals confirmed, the profile last.
OWN_STEPS = frozenset({"terminal_commands", "employees"})

# For rows kept restricted: the column that dates the retention rule's event (NULL: the
# erasure itself, e.g. a consent never withdrawn before, a request still open).
RETENTION_CLOCKS: dict[str, str] = {
    "punches": "occurred_at",
    "punch_corrections": "created_at",
    "punch_entries": "created_at",
    "consents": "withdrawn_at",
    "subject_requests": "closed_at",
    "erasure_runs": "completed_at",
    "downloads": "created_at",
}

# What an anonymized NOT NULL column becomes (nullable ones become NULL). A test fails when
# a NOT NULL column declared "anonymize" has no entry here.
ANONYMIZED: dict[str, Callable[[int], object]] = {
    "employees.employee_code": lambda pk: f"erased-{pk}",
    "employees.given_name": lambda pk: "",
    "employees.family_name": lambda pk: "",
    "employees.status": lambda pk: EmployeeStatus.TERMINATED.value,
    "employees.verify_mode": lambda pk: "card",
    "employees.device_privilege": lambda pk: 0,
}

# Never reset by anonymizing the profile: the erasure's own markers.
_PROFILE_MARKERS = frozenset({"restricted_at"})


@dataclass(frozen=True, slots=True)
class TablePlan:
    table: str
    link: str  # the column naming the employee
    action: Erasure  # delete, anonymize or keep-restricted
    columns: tuple[str, ...]  # anonymized columns
    retention: str
    # Some rows stay (restricted) until their retention ends: the purge deletes them then.
    kept: bool = False


def _link_and_decls(table: Table) -> tuple[str, list[tuple[Column[Any], PersonalData]]] | None:
    decls = [(c, d) for c in table.columns if (d := declaration(c)) is not None]
    for _column, decl in decls:
        if decl.link_column:
            return decl.link_column, decls
    return None


def plan_tables() -> list[TablePlan]:
    """What erasure does to each table about an employee, children before parents."""
    plans: list[TablePlan] = []
    for table in reversed(Base.metadata.sorted_tables):
        if table.name in CHAINED_TABLES or table.name in OWN_STEPS:
            continue
        found = _link_and_decls(table)
        if found is None:
            continue
        link, decls = found
        actions = {d.erasure for _, d in decls}
        retention = next(d.retention for _, d in decls if d.link_column == link)
        if Erasure.DELETE in actions:
            plans.append(TablePlan(table.name, link, Erasure.DELETE, (), retention))
        elif Erasure.ANONYMIZE in actions:
            # Free text beside a kept record (a note on a manual punch) goes now; the rest
            # of the row stays with the record it explains.
            columns = tuple(
                c.name for c, d in decls if d.erasure is Erasure.ANONYMIZE and c.name != link
            )
            kept = Erasure.KEEP_RESTRICTED in actions
            plans.append(TablePlan(table.name, link, Erasure.ANONYMIZE, columns, retention, kept))
        elif Erasure.KEEP_RESTRICTED in actions:
            plans.append(
                TablePlan(table.name, link, Erasure.KEEP_RESTRICTED, (), retention, kept=True)
            )
    return plans


def plan_steps() -> list[str]:
    return [
        "terminals",
        "exports",
        *(f"table:{p.table}" for p in plan_tables()),
        "employee",
        "wait",
        "commands",
        "receipt",
        "tombstone",
    ]


def reference(run_id: int) -> str:
    return f"erasure:{run_id}"


# --------------------------------------------------------------------------- retention
def add_period(when: datetime, retention: str, *, sign: int = 1) -> datetime:
    """``when`` moved by the duration of a retention rule such as ``record+3y``."""
    _event, _, amount = retention.partition("+")
    n, unit = int(amount[:-1]) * sign, amount[-1]
    if unit == "d":
        return when + timedelta(days=n)
    months = n * 12 if unit == "y" else n
    total = when.year * 12 + when.month - 1 + months
    year, month = divmod(total, 12)
    day = min(when.day, _days_in_month(year, month + 1))
    return when.replace(year=year, month=month + 1, day=day)


def _days_in_month(year: int, month: int) -> int:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


# --------------------------------------------------------------------------- starting
def start_erasure(db: Session, request_id: int, *, actor: Actor) -> ErasureRun:
    """Open the erasure run of an erasure request whose requester's identity is verified
    and whose work has started (register state ``in_progress``). Flushes; caller commits."""
    req = db.get(SubjectRequest, request_id)
    if req is None:
        raise NotFoundError(_("There is no request %(id)s.", id=request_id))
    if req.kind != RequestKind.ERASURE:
        raise ValidationError(
            _(
                "Request %(id)s is a %(kind)s request, not an erasure request.",
                id=request_id,
                kind=req.kind,
            )
        )
    if req.status != RequestStatus.IN_PROGRESS:
        status = RequestStatus(req.status)
        raise ConflictError(
            _(
                'Request %(id)s is "%(status)s": an erasure starts once the identity is '
                "verified and work has started.",
                id=request_id,
                status=str(register.STATUS_LABELS.get(status, status)),
            )
        )
    existing = db.scalar(select(ErasureRun).where(ErasureRun.request_id == request_id))
    if existing is not None:
        return existing
    return _open_run(db, req.employee_id, request_id=request_id, actor=actor)


def resume_erasure(db: Session, request_id: int, *, actor: Actor) -> ErasureRun:
    """Start the erasure of a request, or resume the one it has: deletes that terminals
    refused are queued again and waiting ones made due now (:func:`retry_terminal_deletes`).
    The caller commits, then runs :func:`run_erasure`. Flushes."""
    run = db.scalar(select(ErasureRun).where(ErasureRun.request_id == request_id))
    if run is None:
        return start_erasure(db, request_id, actor=actor)
    if run.state != ErasureState.COMPLETED.value:
        retry_terminal_deletes(db, run.id, actor=actor)
    return run


def _open_run(db: Session, employee_id: int, *, request_id: int | None, actor: Actor) -> ErasureRun:
    employee = db.get(Employee, employee_id)
    if employee is None:
        raise NotFoundError(_("No such employee."))
    running = db.scalar(
        select(ErasureRun.id).where(
            ErasureRun.employee_id == employee_id,
            ErasureRun.state != ErasureState.COMPLETED.value,
        )
    )
    if running is not None:
        raise ConflictError(_("Erasure %(id)s of this employee is still under way.", id=running))
    run = ErasureRun(
        request_id=request_id,
        employee_id=employee_id,
        state=ErasureState.RUNNING.value,
        next_step=0,
        receipt={"plan": plan_steps(), "tables": {}, "terminals": {}, "files": 0},
        started_by_id=actor.account_id,
    )
    db.add(run)
    db.flush()
    record_event(
        db,
        "rights.erasure_started",
        actor=actor,
        object_type="erasure",
        object_id=run.id,
        subject_employee_id=employee_id,
        details={"request": request_id, "steps": len(run.receipt["plan"])},
    )
    return run


# --------------------------------------------------------------------------- running
@dataclass(frozen=True, slots=True)
class ErasureOutcome:
    run_id: int
    state: str
    steps_done: int
    waiting_on: list[str]  # terminal serial numbers still to confirm
    scrubbed: bool  # SQLite: the WAL was checkpointed and truncated


StepHook = Callable[[str], None]


def run_erasure(
    sessions: sessionmaker[Session],
    run_id: int,
    *,
    data_dir: Path,
    actor: Actor,
    after_step: StepHook | None = None,
) -> ErasureOutcome:
    """Run the erasure's remaining steps, each in its own transaction, until it completes or
    must wait for terminals. ``after_step(name)`` runs after a step's work, before its commit
    (tests make it raise to stand for a crash)."""
    while True:
        with sessions() as db:
            # Locked for the step (PostgreSQL; SQLite's BEGIN IMMEDIATE already serializes):
            # the worker and a page resuming the same run at once must not both run a step.
            run = db.get(ErasureRun, run_id, with_for_update=True)
            if run is None:
                raise NotFoundError(_("There is no erasure %(id)s.", id=run_id))
            plan: list[str] = list(run.receipt["plan"])
            if run.next_step >= len(plan):
                db.rollback()
                break
            step = plan[run.next_step]
            done = _run_step(db, run, step, data_dir=data_dir, actor=actor)
            if not done:  # waiting for terminals: nothing moved but the state
                db.commit()
                return _outcome(sessions, run_id, scrubbed=False)
            run.next_step += 1
            if run.next_step >= len(plan):
                run.state = ErasureState.COMPLETED.value
                run.completed_at = utcnow()
            db.flush()
            if after_step is not None:
                after_step(step)
            db.commit()
    scrubbed = scrub_storage(sessions)
    return _outcome(sessions, run_id, scrubbed=scrubbed)


def _outcome(sessions: sessionmaker[Session], run_id: int, *, scrubbed: bool) -> ErasureOutcome:
    with sessions() as db:
        run = db.get(ErasureRun, run_id)
        assert run is not None  # noqa: S101  # read back what the caller just ran
        waiting = sorted(
            serial for serial, t in run.receipt["terminals"].items() if t["state"] not in SETTLED
        )
        return ErasureOutcome(run.id, run.state, run.next_step, waiting, scrubbed)


def _run_step(db: Session, run: ErasureRun, step: str, *, data_dir: Path, actor: Actor) -> bool:
    if step.startswith("table:"):
        plans = {p.table: p for p in plan_tables()}
        rows = _erase_table(db, run, plans[step.removeprefix("table:")])
        _note_step(db, run, step, actor, rows=rows)
        return True
    handler = _HANDLERS[step]
    return handler(db, run, data_dir=data_dir, actor=actor)


def _set_receipt(run: ErasureRun, key: str, value: Any) -> None:
    # A new dict each time: the JSON column sees the assignment.
    receipt = dict(run.receipt)
    receipt[key] = value
    run.receipt = receipt


def _note_step(db: Session, run: ErasureRun, step: str, actor: Actor, **counts: int) -> None:
    record_event(
        db,
        "rights.erasure_step",
        actor=actor,
        object_type="erasure",
        object_id=run.id,
        subject_employee_id=run.employee_id,
        details={"step": step, **counts},
    )


# Terminal entries of a receipt that no longer hold the erasure up: confirmed; no longer in
# Rollcall (deleted, or a serial seen in the records that was never registered); or a delete
# that could not be asked again because its PIN is unknown.
SETTLED = frozenset({"done", "removed", "unconfirmed"})


def _why_waiting(terminal: Terminal) -> str | None:
    """Why a terminal's delete cannot run now, for the receipt and the request's page."""
    if terminal.transport not in distribution.BINARY:
        return "push"  # commands over ADMS are not sent yet: the delete waits in the outbox
    if not terminal.enabled:
        return "disabled"  # the delete runs when the terminal is enabled again
    return None


def _step_terminals(db: Session, run: ErasureRun, *, data_dir: Path, actor: Actor) -> bool:
    employee = db.get(Employee, run.employee_id)
    assert employee is not None  # noqa: S101  # RESTRICT keeps the row while a run exists
    now = utcnow()
    # Nothing more goes to any terminal for them: pending puts and enrolments are dropped.
    db.execute(
        update(TerminalCommand)
        .where(
            TerminalCommand.employee_id == employee.id,
            TerminalCommand.state == CommandState.PENDING.value,
            TerminalCommand.kind.in_((CommandKind.PUT_USER.value, CommandKind.ENROL.value)),
        )
        .values(state=CommandState.SUPERSEDED.value, completed_at=now)
        .execution_options(synchronize_session=False)
    )
    # Every terminal that ever held them, enabled or not, and every enabled one.
    holders = distribution.holding_terminals(db, employee.id)
    commands = distribution.remove_everywhere(
        db, employee, cause="erasure", reference=reference(run.id), holders=holders
    )
    by_id = {t.id: t for t in holders.terminals}
    entries: dict[str, dict[str, Any]] = {}
    for c in commands:
        terminal = by_id[c.terminal_id]
        entries[terminal.serial_number] = {
            "command": c.id,
            "state": "pending",
            "confirmed_at": None,
            "reason": _why_waiting(terminal),
        }
    for serial in holders.gone:
        # Seen in their records (punches, templates) but not registered in Rollcall: nothing
        # can be asked of it; the receipt says so instead of waiting forever.
        entries[serial] = {
            "command": None,
            "state": "removed",
            "confirmed_at": None,
            "reason": "not_registered",
        }
    _set_receipt(run, "terminals", entries)
    db.flush()
    _note_step(
        db,
        run,
        "terminals",
        actor,
        terminals=len(commands),
        disabled=sum(1 for e in entries.values() if e["reason"] == "disabled"),
        push=sum(1 for e in entries.values() if e["reason"] == "push"),
        not_registered=len(holders.gone),
    )
    return True


def _step_exports(db: Session, run: ErasureRun, *, data_dir: Path, actor: Actor) -> bool:
    downloads = list(
        db.scalars(
            select(Download).where(
                Download.employee_id == run.employee_id, Download.removed_at.is_(None)
            )
        )
    )
    now = utcnow()
    for item in downloads:
        # Removing a file twice (a crash before this commit) is harmless; the count comes
        # from the rows, which move with the commit.
        (data_dir / "exports" / item.filename).unlink(missing_ok=True)
        item.removed_at = now
    _set_receipt(run, "files", int(run.receipt.get("files", 0)) + len(downloads))
    db.flush()
    _note_step(db, run, "exports", actor, files=len(downloads))
    return True


def _restricting_children(table: Table) -> list[tuple[Table, Column[Any], Column[Any]]]:
    """(child table, its column, our column) for every foreign key that blocks a delete."""
    out = []
    for other in Base.metadata.sorted_tables:
        for fk in other.foreign_keys:
            if fk.column.table is table and (fk.ondelete or "RESTRICT").upper() in (
                "RESTRICT",
                "NO ACTION",
            ):
                out.append((other, fk.parent, fk.column))
    return out


def _erase_table(db: Session, run: ErasureRun, plan: TablePlan) -> int:
    table = Base.metadata.tables[plan.table]
    mine = table.c[plan.link] == run.employee_id
    entry: dict[str, Any] = {"action": plan.action.value}
    if plan.action is Erasure.DELETE:
        rows = rowcount(db.execute(delete(table).where(mine)))
    elif plan.action is Erasure.ANONYMIZE:
        values = {c: _anonymized(table, c, run.employee_id) for c in plan.columns}
        rows = rowcount(db.execute(update(table).where(mine).values(**values)))
        entry["columns"] = list(plan.columns)
    else:
        rows = db.scalar(select(func.count()).select_from(table).where(mine)) or 0
    clock = RETENTION_CLOCKS.get(plan.table)
    if plan.kept and rows and clock is not None:
        # The last kept row's end of retention (NULL clock: it starts with this erasure).
        latest = db.scalar(select(func.max(table.c[clock])).where(mine))
        if latest is None or db.scalar(
            select(func.count()).select_from(table).where(mine, table.c[clock].is_(None))
        ):
            latest = utcnow() if latest is None else max(latest, utcnow())
        entry["kept_until"] = add_period(latest, plan.retention).date().isoformat()
    entry["rows"] = int(rows or 0)
    tables = dict(run.receipt.get("tables", {}))
    tables[plan.table] = entry
    _set_receipt(run, "tables", tables)
    db.flush()
    return int(entry["rows"])


def _anonymized(table: Table, column: str, pk: int) -> object:
    make = ANONYMIZED.get(f"{table.name}.{column}")
    if make is not None:
        return make(pk)
    if not table.c[column].nullable:
        raise ValueError(f"{table.name}.{column} is NOT NULL and has no anonymized value")
    return None


def _step_employee(db: Session, run: ErasureRun, *, data_dir: Path, actor: Actor) -> bool:
    table = cast(Table, Employee.__table__)
    columns = [
        c.name
        for c in table.columns
        if (d := declaration(c)) is not None
        and d.erasure is Erasure.ANONYMIZE
        and c.name not in _PROFILE_MARKERS
    ]
    now = utcnow()
    values: dict[str, object] = {c: _anonymized(table, c, run.employee_id) for c in columns}
    db.execute(
        update(table)
        .where(table.c.id == run.employee_id)
        .values(**values, erased_at=now, restricted_at=now, updated_at=now)
    )
    db.expire_all()
    tables = dict(run.receipt.get("tables", {}))
    tables["employees"] = {"action": "anonymize", "rows": 1, "columns": sorted(columns)}
    _set_receipt(run, "tables", tables)
    db.flush()
    _note_step(db, run, "employee", actor, rows=1)
    # The tombstone goes now, before this commit, not when the terminals have confirmed:
    # a backup restored while the run waits must replay what the database forgot here.
    _write_tombstone(db, run, data_dir)
    return True


def _step_wait(db: Session, run: ErasureRun, *, data_dir: Path, actor: Actor) -> bool:
    """Done when every terminal's delete is confirmed (or the terminal is gone from
    Rollcall); until then the request waits. A delete the outbox gave up on is queued
    again, later each time (the outbox's backoff), so a terminal that refused it is asked
    until it accepts; :func:`retry_terminal_deletes` asks again at once."""
    terminals = _refresh_terminals(db, run, actor=actor, now=utcnow(), at_once=False)
    pending = [s for s, t in terminals.items() if t["state"] not in SETTLED]
    if pending:
        if run.state != ErasureState.WAITING_FOR_TERMINALS.value:
            run.state = ErasureState.WAITING_FOR_TERMINALS.value
            req = db.get(SubjectRequest, run.request_id) if run.request_id else None
            if req is not None and req.status == RequestStatus.IN_PROGRESS:
                register.wait_for_terminals(db, req.id, actor=actor)
        db.flush()
        return False
    run.state = ErasureState.RUNNING.value
    db.flush()
    _note_step(db, run, "wait", actor, terminals=len(terminals))
    return True


def _refresh_terminals(
    db: Session, run: ErasureRun, *, actor: Actor, now: datetime, at_once: bool
) -> dict[str, dict[str, Any]]:
    """Bring the receipt's terminal entries up to date with the outbox: confirmations,
    errors, why a delete waits; queue again the deletes that failed (``at_once``: due now,
    else after the backoff) and make waiting ones due now when ``at_once``."""
    from terminals.outbox import backoff

    terminals = {k: dict(v) for k, v in run.receipt.get("terminals", {}).items()}
    ids = [t["command"] for t in terminals.values() if t.get("command") is not None]
    commands = {
        c.id: c for c in db.scalars(select(TerminalCommand).where(TerminalCommand.id.in_(ids)))
    }
    known = {t.serial_number: t for t in db.scalars(select(Terminal))}
    for serial, entry in terminals.items():
        if entry["state"] in SETTLED:
            continue
        terminal = known.get(serial)
        command = commands.get(entry["command"]) if entry.get("command") is not None else None
        if terminal is None:
            # Deleted from Rollcall (its outbox went with it): nothing can confirm any more.
            entry.update(
                state="removed",
                reason="terminal_deleted",
                removed_at=now.isoformat(timespec="seconds"),
            )
            _note_terminal(db, run, actor, serial, "removed")
            continue
        entry["reason"] = _why_waiting(terminal)
        if command is not None and command.state == CommandState.DONE.value:
            outcome = command.outcome or {}
            deleted = command.completed_at.isoformat() if command.completed_at else None
            counts = {
                "user": outcome.get("user"),
                "templates_deleted": int(outcome.get("templates_deleted", 0)),
                "error": None,
            }
            asked = bool(outcome.get("log_clear_asked"))
            if asked and terminal.log_clear_requested_at is not None:
                # Deleted; the attendance log, which may hold their punches, is read into
                # Rollcall and cleared at the terminal's next sync (the outbox asked).
                entry.update(state="clearing_log", deleted_at=deleted, **counts)
                if at_once:
                    terminal.next_attempt_at = now  # the worker syncs it at once
                continue
            entry.update(
                state="done",
                confirmed_at=deleted,
                log_cleared_at=(
                    terminal.log_cleared_at.isoformat(timespec="seconds")
                    if asked and terminal.log_cleared_at
                    else None
                ),
                reason=None,
                **counts,
            )
            continue
        if command is None or command.state in (
            CommandState.FAILED.value,
            CommandState.SUPERSEDED.value,
        ):
            failed = command is not None and command.state == CommandState.FAILED.value
            failures = int(entry.get("failures", 0)) + (1 if failed else 0)
            pin = command.pin if command is not None else _known_pin(db, run, terminal)
            if pin is None:
                entry.update(state="unconfirmed", error="the PIN on this terminal is unknown")
                _note_terminal(db, run, actor, serial, "unconfirmed")
                continue
            again = distribution.queue_command(
                db,
                terminal,
                CommandKind.DELETE_USER,
                cause="erasure",
                employee_id=run.employee_id,
                pin=pin,
                reference=reference(run.id),
            )
            again.next_attempt_at = None if at_once else now + backoff(max(failures, 1))
            entry.update(
                command=again.id,
                state="retrying",
                failures=failures,
                error=(command.last_error if command is not None else None) or entry.get("error"),
            )
            _note_terminal(db, run, actor, serial, "queued_again", failures=failures)
            continue
        # Pending: waiting for its turn, for the terminal, or retrying after errors.
        if at_once:
            command.next_attempt_at = None
        if command.attempts > 0:
            entry.update(state="retrying", error=command.last_error)
        elif entry["state"] != "retrying":
            entry["state"] = "pending"
    _set_receipt(run, "terminals", terminals)
    db.flush()
    return terminals


def _known_pin(db: Session, run: ErasureRun, terminal: Terminal) -> str | None:
    """The PIN of the employee's newest command for ``terminal`` (their own data is gone)."""
    return db.scalar(
        select(TerminalCommand.pin)
        .where(
            TerminalCommand.employee_id == run.employee_id,
            TerminalCommand.terminal_id == terminal.id,
            TerminalCommand.pin.is_not(None),
        )
        .order_by(TerminalCommand.id.desc())
        .limit(1)
    )


def _note_terminal(
    db: Session, run: ErasureRun, actor: Actor, serial: str, what: str, **details: int | str
) -> None:
    record_event(
        db,
        "rights.erasure_terminal",
        actor=actor,
        object_type="erasure",
        object_id=run.id,
        subject_employee_id=run.employee_id,
        details={"terminal": serial, "what": what, **details},
    )


def retry_terminal_deletes(db: Session, run_id: int, *, actor: Actor) -> list[str]:
    """An administrator asks again now: failed deletes of the erasure are queued again and
    waiting ones are made due at once (the worker runs them at its next pass). Returns the
    serial numbers asked again. Flushes; the caller commits."""
    run = db.get(ErasureRun, run_id, with_for_update=True)
    if run is None:
        raise NotFoundError(_("There is no erasure %(id)s.", id=run_id))
    if run.state == ErasureState.COMPLETED.value:
        return []
    before = {s for s, t in run.receipt.get("terminals", {}).items() if t["state"] in SETTLED}
    terminals = _refresh_terminals(db, run, actor=actor, now=utcnow(), at_once=True)
    asked = sorted(s for s, t in terminals.items() if t["state"] not in SETTLED)
    record_event(
        db,
        "rights.erasure_retried",
        actor=actor,
        object_type="erasure",
        object_id=run.id,
        subject_employee_id=run.employee_id,
        details={"terminals": len(asked), "settled": len(before)},
    )
    return asked


# How someone cleared a terminal Rollcall cannot reach, as they attest it: a closed list,
# so the receipt and the operation log never hold free text about the employee.
HAND_CONFIRMATIONS = ("deleted_at_terminal", "terminal_reset", "terminal_destroyed")


def confirm_by_hand(
    db: Session, run_id: int, serial: str, *, how: str, actor: Actor
) -> dict[str, Any]:
    """A privacy officer attests that ``serial`` no longer holds the employee, for a
    terminal Rollcall cannot reach: a push terminal (no commands over ADMS yet), one that is
    disabled for good, stolen or broken. The receipt records it as confirmed by hand, how
    and by whom, apart from the terminals' own read-back confirmations; its waiting delete
    is dropped from the outbox. The caller runs the erasure on (:func:`run_erasure`) so it
    completes when nothing else waits. Flushes; the caller commits. Returns the entry."""
    run = db.get(ErasureRun, run_id, with_for_update=True)
    if run is None:
        raise NotFoundError(_("There is no erasure %(id)s.", id=run_id))
    if how not in HAND_CONFIRMATIONS:
        raise ValidationError(
            _("Say how the terminal was cleared."),
            details={"field": "how", "allowed": list(HAND_CONFIRMATIONS)},
        )
    if run.state == ErasureState.COMPLETED.value:
        raise ConflictError(_("This erasure is completed: there is nothing left to confirm."))
    terminals = {k: dict(v) for k, v in run.receipt.get("terminals", {}).items()}
    entry = terminals.get(serial)
    if entry is None:
        raise NotFoundError(
            _("The terminal %(serial)s is not one this erasure waits for.", serial=serial)
        )
    if entry["state"] in SETTLED:
        raise ConflictError(
            _("The terminal %(serial)s needs no confirmation any more.", serial=serial)
        )
    now = utcnow()
    command = db.get(TerminalCommand, entry["command"]) if entry.get("command") else None
    if command is not None and command.state == CommandState.PENDING.value:
        command.state = CommandState.SUPERSEDED.value
        command.completed_at = now
    entry.update(
        state="done",
        confirmed_at=now.isoformat(timespec="seconds"),
        by_hand={"how": how, "account": actor.account_id, "actor": actor.kind},
        error=None,
    )
    terminals[serial] = entry
    _set_receipt(run, "terminals", terminals)
    db.flush()
    _note_terminal(db, run, actor, serial, "confirmed_by_hand", how=how)
    return entry


def _step_commands(db: Session, run: ErasureRun, *, data_dir: Path, actor: Actor) -> bool:
    rows = rowcount(
        db.execute(delete(TerminalCommand).where(TerminalCommand.employee_id == run.employee_id))
    )
    tables = dict(run.receipt.get("tables", {}))
    tables["terminal_commands"] = {"action": "delete", "rows": int(rows or 0)}
    _set_receipt(run, "tables", tables)
    db.flush()
    _note_step(db, run, "commands", actor, rows=int(rows or 0))
    return True


def receipt_digest(receipt: dict[str, Any]) -> str:
    body = json.dumps(receipt, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(body.encode("ascii")).hexdigest()


def _step_receipt(db: Session, run: ErasureRun, *, data_dir: Path, actor: Actor) -> bool:
    _set_receipt(run, "completed_at", utcnow().isoformat(timespec="seconds"))
    run.receipt_digest = receipt_digest(run.receipt)
    db.flush()
    tables = run.receipt["tables"]
    record_event(
        db,
        "rights.erasure_completed",
        actor=actor,
        object_type="erasure",
        object_id=run.id,
        subject_employee_id=run.employee_id,
        details={
            "request": run.request_id,
            "receipt_sha256": run.receipt_digest,
            "deleted": sum(t["rows"] for t in tables.values() if t["action"] == "delete"),
            "anonymized": sum(t["rows"] for t in tables.values() if t["action"] == "anonymize"),
            "kept_restricted": sum(
                t["rows"] for t in tables.values() if t["action"] == "keep-restricted"
            ),
            "terminals": len(run.receipt["terminals"]),
            "files": run.receipt.get("files", 0),
        },
    )
    req = db.get(SubjectRequest, run.request_id) if run.request_id else None
    if req is not None and not RequestStatus(req.status).closed:
        register.complete_request(db, req.id, actor=actor)
    return True


def _step_tombstone(db: Session, run: ErasureRun, *, data_dir: Path, actor: Actor) -> bool:
    _write_tombstone(db, run, data_dir)  # written at the employee step; runs before had not
    return True


def _write_tombstone(db: Session, run: ErasureRun, data_dir: Path) -> None:
    """Append the run's tombstone once. A replayed run adds none: the line it replays is
    there already."""
    if run.receipt.get("replay_of") is not None:
        return
    path = data_dir / TOMBSTONE_FILE
    if run.id in {t.run_id for t in read_tombstones(path)}:
        return
    created = db.scalar(select(Employee.created_at).where(Employee.id == run.employee_id))
    append_tombstone(path, Tombstone(run.id, run.employee_id, run.request_id, utcnow(), created))


_HANDLERS: dict[str, Callable[..., bool]] = {
    "terminals": _step_terminals,
    "exports": _step_exports,
    "employee": _step_employee,
    "wait": _step_wait,
    "commands": _step_commands,
    "receipt": _step_receipt,
    "tombstone": _step_tombstone,
}


def verify_receipt(db: Session, run_id: int) -> bool:
    """The stored receipt still hashes to the digest written into the operation log."""
    from server.audit.models import AuditEvent

    run = db.get(ErasureRun, run_id)
    if run is None or run.receipt_digest is None:
        return False
    logged = db.scalar(
        select(AuditEvent.details).where(
            AuditEvent.action == "rights.erasure_completed",
            AuditEvent.object_type == "erasure",
            AuditEvent.object_id == str(run_id),
        )
    )
    digest = receipt_digest(run.receipt)
    return isinstance(logged, dict) and (
        logged.get("receipt_sha256") == digest == run.receipt_digest
    )


# --------------------------------------------------------------------------- storage
def scrubbed_tables() -> list[str]:
    """Tables an erasure deletes from or overwrites, whose old row versions could still
    hold the erased values (kept tables are not touched by it)."""
    names = {p.table for p in plan_tables() if p.action is not Erasure.KEEP_RESTRICTED}
    return sorted(names | {"employees", "terminal_commands"})


def scrub_storage(sessions: sessionmaker[Session], tables: Iterable[str] | None = None) -> bool:
    """Make the storage forget erased values (:func:`server.db.reclaim_storage`) of
    ``tables`` (default: what an erasure touches). Returns False when it could not (busy);
    the next erasure or purge tries again."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, Engine):
        return False  # a connection inside someone's transaction (tests): nothing to do
    done = reclaim_storage(bind, sorted(tables) if tables is not None else scrubbed_tables())
    if not done:
        logger.warning("erasure: storage busy; freed space is reclaimed at the next run")
    return done


# --------------------------------------------------------------------------- tombstones
@dataclass(frozen=True, slots=True)
class Tombstone:
    """One erasure, by identifiers only. The employee's id alone does not name a record
    (a restored older database hands the id to someone else): ``employee_created_at``, the
    record's creation instant to the microsecond, does, without holding personal data.
    ``None``: a line of the first format, which had the id only."""

    run_id: int
    employee_id: int
    request_id: int | None
    erased_at: datetime
    employee_created_at: datetime | None = None


def append_tombstone(path: Path, tombstone: Tombstone) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    item: dict[str, Any] = {
        "run": tombstone.run_id,
        "employee": tombstone.employee_id,
        "request": tombstone.request_id,
        "erased_at": tombstone.erased_at.isoformat(timespec="seconds"),
    }
    if tombstone.employee_created_at is not None:
        item["v"] = 2
        item["employee_created_at"] = tombstone.employee_created_at.astimezone(UTC).isoformat(
            timespec="microseconds"
        )
    line = json.dumps(item, sort_keys=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_tombstones(path: Path) -> list[Tombstone]:
    if not path.exists():
        return []
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            created = item.get("employee_created_at")
            out.append(
                Tombstone(
                    int(item["run"]),
                    int(item["employee"]),
                    None if item.get("request") is None else int(item["request"]),
                    datetime.fromisoformat(item["erased_at"]).astimezone(UTC),
                    None if created is None else datetime.fromisoformat(created).astimezone(UTC),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValidationError(
                _(
                    "%(path)s: line %(number)s is not a tombstone (%(error)s).",
                    path=str(path),
                    number=number,
                    error=str(exc),
                )
            ) from exc
    return out


class Match(enum.StrEnum):
    """What a tombstone finds in the database."""

    PENDING = "pending"  # its record, not erased: the erasure is to be replayed
    ERASED = "erased"  # its record, erased already
    ABSENT = "absent"  # no record with the id (a backup from before they were hired)
    OTHER = "other"  # the id is another record's (created at another instant)
    # A first-format line (id only) whose record was created after the erasure: another
    # person; never replayed automatically.
    NEWER = "newer"
    # Its record, not erased yet, and its erasure run here and unfinished: a crash came
    # between the tombstone and the employee step's commit; the run resumes (the worker).
    IN_PROGRESS = "in_progress"


def _match(tomb: Tombstone, row: tuple[datetime, datetime | None] | None) -> Match:
    if row is None:
        return Match.ABSENT
    created, erased_at = row
    if tomb.employee_created_at is not None:
        if created != tomb.employee_created_at:
            return Match.OTHER
    elif created > tomb.erased_at:
        return Match.NEWER
    return Match.ERASED if erased_at is not None else Match.PENDING


def check_tombstones(db: Session, *, data_dir: Path) -> dict[Match, list[Tombstone]]:
    """Each tombstone by what it finds in the database (read-only; for ``rollcall check``
    and the start of the web server and the worker). A tombstone under
    :attr:`Match.PENDING` means an older backup was restored: run
    ``rollcall rights replay-erasures``."""
    tombs = read_tombstones(data_dir / TOMBSTONE_FILE)
    ids = sorted({t.employee_id for t in tombs})
    rows: dict[int, tuple[datetime, datetime | None]] = {}
    for start in range(0, len(ids), 500):
        for eid, created, erased_at in db.execute(
            select(Employee.id, Employee.created_at, Employee.erased_at).where(
                Employee.id.in_(ids[start : start + 500])
            )
        ).all():
            rows[int(eid)] = (created, erased_at)
    unfinished = {
        (int(rid), int(eid))
        for rid, eid in db.execute(
            select(ErasureRun.id, ErasureRun.employee_id).where(
                ErasureRun.state != ErasureState.COMPLETED.value
            )
        ).all()
    }
    found: dict[Match, list[Tombstone]] = {m: [] for m in Match}
    for tomb in tombs:
        match = _match(tomb, rows.get(tomb.employee_id))
        if match is Match.PENDING and (tomb.run_id, tomb.employee_id) in unfinished:
            match = Match.IN_PROGRESS
        found[match].append(tomb)
    return found


def unapplied_erasures_message(found: dict[Match, list[Tombstone]]) -> str | None:
    """Why the web server and the worker do not start, or None when they may."""
    pending = found[Match.PENDING]
    if not pending:
        return None
    runs = ", ".join(str(t.run_id) for t in pending[:10]) + (" ..." if len(pending) > 10 else "")
    return (
        f"the erasure tombstone file lists {len(pending)} erasure(s) not applied to this "
        f"database (runs {runs}): an older backup was restored. Run `rollcall rights "
        "replay-erasures` before starting Rollcall."
    )


@dataclass(frozen=True, slots=True)
class ReplayReport:
    outcomes: list[ErasureOutcome]  # the erasures replayed (or resumed)
    already_erased: int  # tombstones whose record is erased already: skipped
    absent: int  # tombstones whose record is not in this database
    # Not replayed: the id belongs to another record (run id, employee id).
    other_record: list[tuple[int, int]]
    # Not replayed: a first-format tombstone (id only) whose record was created after it.
    newer_record: list[tuple[int, int]]


def replay_erasures(
    sessions: sessionmaker[Session], *, data_dir: Path, actor: Actor
) -> ReplayReport:
    """After restoring an older backup: erase again every record the tombstones name that is
    back un-erased, and only that record (same id and same creation instant). Running it
    again changes nothing. Runs opened here have no request (it may predate the backup); the
    receipt names the original run. Mismatches are reported, never erased, and logged."""
    with sessions() as db:
        found = check_tombstones(db, data_dir=data_dir)
        for match in (Match.OTHER, Match.NEWER):
            for tomb in found[match]:
                record_event(
                    db,
                    "rights.erasure_replay_refused",
                    actor=actor,
                    object_type="erasure",
                    object_id=tomb.run_id,
                    details={"employee": tomb.employee_id, "match": match.value},
                )
        db.commit()
    outcomes = []
    for tomb in found[Match.PENDING]:
        with sessions() as db:
            open_run = db.scalar(
                select(ErasureRun.id).where(
                    ErasureRun.employee_id == tomb.employee_id,
                    ErasureRun.state != ErasureState.COMPLETED.value,
                )
            )
            if open_run is None:
                run = _open_run(db, tomb.employee_id, request_id=None, actor=actor)
                _set_receipt(run, "replay_of", tomb.run_id)
                db.commit()
                open_run = run.id
        outcomes.append(run_erasure(sessions, open_run, data_dir=data_dir, actor=actor))
    return ReplayReport(
        outcomes=outcomes,
        already_erased=len(found[Match.ERASED]),
        absent=len(found[Match.ABSENT]),
        other_record=[(t.run_id, t.employee_id) for t in found[Match.OTHER]],
        newer_record=[(t.run_id, t.employee_id) for t in found[Match.NEWER]],
    )


def replay_tombstones(
    sessions: sessionmaker[Session], *, data_dir: Path, actor: Actor
) -> list[ErasureOutcome]:
    """:func:`replay_erasures`, the erasures it ran only."""
    return replay_erasures(sessions, data_dir=data_dir, actor=actor).outcomes


def resume_waiting(
    sessions: sessionmaker[Session], *, data_dir: Path, actor: Actor
) -> list[ErasureOutcome]:
    """Advance every erasure that is not completed (the worker calls this)."""
    with sessions() as db:
        ids = list(
            db.scalars(
                select(ErasureRun.id)
                .where(ErasureRun.state != ErasureState.COMPLETED.value)
                .order_by(ErasureRun.id)
            )
        )
    return [run_erasure(sessions, i, data_dir=data_dir, actor=actor) for i in ids]


# --------------------------------------------------------------------------- retention
def purge_expired(db: Session, *, now: datetime | None = None, actor: Actor) -> dict[str, int]:
    """Delete what erased employees' rows were kept for once their retention has ended
    (time records after their legal period, consent proofs, request records). Rows that
    another kept row still refers to wait for it. Flushes; the caller commits and then
    calls :func:`scrub_storage` with the tables returned."""
    now = now or utcnow()
    erased = select(Employee.id).where(Employee.erased_at.is_not(None))
    removed: dict[str, int] = {}
    for plan in plan_tables():
        if not plan.kept:
            continue
        table = Base.metadata.tables[plan.table]
        clock_name = RETENTION_CLOCKS.get(plan.table)
        if clock_name is None:
            continue
        cutoff = add_period(now, plan.retention, sign=-1)
        clock = table.c[clock_name]
        when = func.coalesce(
            clock,
            select(Employee.erased_at).where(Employee.id == table.c[plan.link]).scalar_subquery(),
        )
        condition = [table.c[plan.link].in_(erased), when < cutoff]
        for _child, child_col, our_col in _restricting_children(table):
            condition.append(~exists().where(child_col == table.c[our_col.name]))
        rows = rowcount(db.execute(delete(table).where(*condition)))
        if rows:
            removed[plan.table] = int(rows)
    db.flush()
    if removed:
        record_event(
            db,
            "rights.retention_purged",
            actor=actor,
            object_type="retention",
            details={"rows": sum(removed.values()), **{f"rows.{t}": n for t, n in removed.items()}},
        )
    return removed
