# SPDX-License-Identifier: GPL-2.0-or-later
"""Executing a terminal's command outbox (issue #5): after commit, in order, retried, acked.

The worker calls :func:`run_commands` under the terminal's lease. Commands go in batches of
three steps, so no database transaction is open while the terminal is spoken to (SQLite
takes its write lock at BEGIN):

1. *plan* (database): read what each command needs now: the user record, the PIN, and for a
   put the templates, decrypted only if the consent gate still admits them; commit.
2. *execute* (terminal): compare with what the terminal holds and write only the difference;
   deletes are read back to confirm. Plaintext templates live only in this step's memory.
3. *record* (database): mark commands done (or retrying with backoff, or failed for good),
   audit, pass new templates through the gate, close completed withdrawals; commit.

A crash between 2 and 3 repeats the batch, which every command tolerates: a put compares
before writing and a delete of something absent is a confirmed delete.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from biometrics.gate import check_admission
from biometrics.keys import KeyEncryptionKey
from server.audit.services import Actor, PendingEvent, record_event, record_events
from server.db import utcnow
from server.devices.distribution import (
    eligible,
    expected_employees,
    pins_for,
    queue_command,
    queue_puts,
    withdrawal_progress,
)
from server.devices.models import CommandKind, CommandState, Terminal, TerminalCommand
from server.employees.models import Employee
from server.enrolment.models import BiometricTemplate
from server.enrolment.services import open_templates
from server.privacy.models import Consent
from server.privacy.services import BatchConsentReader
from server.sealing import DEVICE_PASSWORD_PURPOSE, device_password_owner, open_secret
from terminals.base import (
    DeviceTemplate,
    DeviceUser,
    TerminalClient,
    TerminalError,
    TerminalIdentityError,
    TerminalProtocolError,
    UnstorableUserError,
)
from terminals.sync import PinResolver, remember_layouts
from terminals.templates import absorb_templates, biometrics_enabled
from terminals.zk.records import device_card, fit_text, name_bytes

logger = logging.getLogger(__name__)

BATCH = 200
MAX_BACKOFF_S = 3600
WORKER = Actor.system("worker")


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), MAX_BACKOFF_S))


@dataclass
class OutboxCounts:
    done: int = 0
    failed: int = 0
    retrying: int = 0
    batches: int = 0


@dataclass
class _Plan:
    command_id: int
    kind: CommandKind
    employee_id: int | None
    pin: str | None
    finger: int | None
    cause: str
    reference: str | None
    # For puts and enrolments: the record as Rollcall wants it (None: not wanted here now).
    name: str | None = None
    privilege: int = 0
    card: int = 0
    password: str | None = field(default=None, repr=False)  # None: keep the terminal's
    templates: list[DeviceTemplate] = field(default_factory=list, repr=False)
    with_templates: bool = False  # the terminal's templates are ours to manage
    skip: str | None = None  # nothing to do here any more: done, with this note
    refuse: str | None = None  # can never be done as asked: failed, with this reason


@dataclass
class _Result:
    plan: _Plan
    state: CommandState
    outcome: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    # Enrolment and reconciliation bring the terminal's data back to the record step.
    users: list[DeviceUser] = field(default_factory=list)
    templates: list[DeviceTemplate] = field(default_factory=list, repr=False)


class _DeviceView:
    """What the terminal holds, read once per session and kept current as we write."""

    def __init__(self, client: TerminalClient) -> None:
        self.client = client
        self._users: dict[str, DeviceUser] | None = None
        self._templates: dict[int, dict[int, bytes]] | None = None

    def users(self) -> dict[str, DeviceUser]:
        if self._users is None:
            self._users = {u.pin: u for u in self.client.users()}
        return self._users

    def fingers(self, uid: int) -> dict[int, bytes]:
        if self._templates is None:
            self._templates = {}
            for t in self.client.templates():
                self._templates.setdefault(t.uid, {})[t.finger_index] = t.template
        return self._templates.get(uid, {})

    def all_templates(self) -> list[DeviceTemplate]:
        self.fingers(0)
        assert self._templates is not None  # noqa: S101 -- loaded just above
        return [
            DeviceTemplate(uid=uid, finger_index=f, flag=1, template=data)
            for uid, fingers in self._templates.items()
            for f, data in fingers.items()
        ]

    def refresh(self) -> None:
        self._users = None
        self._templates = None

    def next_uid(self) -> int:
        used = {u.uid for u in self.users().values()}
        candidate = max(used, default=0) + 1
        if candidate < 65536:
            return candidate
        for uid in range(1, 65536):
            if uid not in used:
                return uid
        raise TerminalProtocolError("the terminal has no free user slot")

    def put(self, user: DeviceUser, written: Sequence[DeviceTemplate]) -> None:
        self.users()[user.pin] = user
        if self._templates is not None:
            slots = self._templates.setdefault(user.uid, {})
            for t in written:
                slots[t.finger_index] = t.template

    def drop_user(self, user: DeviceUser) -> None:
        self.users().pop(user.pin, None)
        if self._templates is not None:
            self._templates.pop(user.uid, None)

    def drop_finger(self, uid: int, finger: int) -> None:
        if self._templates is not None:
            self._templates.get(uid, {}).pop(finger, None)


# --------------------------------------------------------------------------- entry point
def due_commands(db: Session, terminal_id: int, now: datetime, limit: int) -> list[TerminalCommand]:
    return list(
        db.scalars(
            select(TerminalCommand)
            .where(
                TerminalCommand.terminal_id == terminal_id,
                TerminalCommand.state == CommandState.PENDING.value,
                or_(
                    TerminalCommand.next_attempt_at.is_(None),
                    TerminalCommand.next_attempt_at <= now,
                ),
            )
            .order_by(TerminalCommand.id)
            .limit(limit)
        )
    )


def has_due_commands(db: Session, terminal_id: int, now: datetime) -> bool:
    return bool(due_commands(db, terminal_id, now, 1))


def run_commands(
    db: Session,
    terminal: Terminal,
    client: TerminalClient,
    *,
    kek: KeyEncryptionKey | None,
    clock: Callable[[], datetime] = utcnow,
    actor: Actor = WORKER,
    max_batches: int = 1000,
) -> OutboxCounts:
    """Run the terminal's due commands through ``client`` (not yet connected); commits."""
    counts = OutboxCounts()
    commands = due_commands(db, terminal.id, clock(), BATCH)
    if not commands:
        db.commit()
        return counts
    try:
        with client:
            info = client.info()
            if info.serial_number != terminal.serial_number:
                raise TerminalIdentityError(
                    f"terminal {terminal.serial_number} expected but {info.serial_number} "
                    "answered; its commands wait",
                    expected=terminal.serial_number,
                    found=info.serial_number,
                )
            view = _DeviceView(client)
            while commands and counts.batches < max_batches:
                counts.batches += 1
                plans = _plan(db, terminal, commands, kek=kek, actor=actor)
                db.commit()  # no transaction open while the terminal is spoken to
                results: list[_Result] = []
                stopped: TerminalError | None = None
                for plan in plans:
                    try:
                        results.append(_execute(plan, view, client))
                    except UnstorableUserError as exc:
                        results.append(_Result(plan, CommandState.FAILED, error=str(exc)))
                    except TerminalError as exc:
                        stopped = exc
                        results.append(_Result(plan, CommandState.PENDING, error=str(exc)))
                        break
                _record(db, terminal, results, kek=kek, actor=actor, now=clock(), counts=counts)
                db.commit()
                if stopped is not None:
                    logger.warning(
                        "terminal %s: outbox stopped: %s", terminal.serial_number, stopped
                    )
                    return counts
                commands = due_commands(db, terminal.id, clock(), BATCH)
            remember_layouts(terminal, client)
            db.commit()
    except TerminalError as exc:
        db.rollback()
        _postpone(db, terminal.id, None, exc, now=clock())
        counts.retrying += 1
        db.commit()
        logger.warning("terminal %s: outbox not run: %s", terminal.serial_number, exc)
    return counts


# --------------------------------------------------------------------------- 1. plan
def _plan(
    db: Session,
    terminal: Terminal,
    commands: Sequence[TerminalCommand],
    *,
    kek: KeyEncryptionKey | None,
    actor: Actor,
) -> list[_Plan]:
    needs_people = any(
        c.kind in (CommandKind.PUT_USER.value, CommandKind.ENROL.value) for c in commands
    )
    expected: dict[int, Employee] = {}
    pins: dict[int, str] = {}
    if needs_people:
        expected = {e.id: e for e in expected_employees(db, terminal)}
        wanted = [
            expected[c.employee_id]
            for c in commands
            if c.employee_id in expected and c.employee_id is not None
        ]
        pins = pins_for(db, wanted, terminal)
    bio = biometrics_enabled(db) and kek is not None
    people = [
        c.employee_id
        for c in commands
        if c.employee_id is not None
        and c.kind in (CommandKind.PUT_USER.value, CommandKind.ENROL.value)
    ]
    reader = BatchConsentReader(db, people)
    today = utcnow().date()
    admitted = {e for e in people if check_admission(e, on=today, consents=reader).admitted}
    opened = open_templates(db, sorted(admitted), kek=kek) if bio and kek is not None else {}
    plans = []
    for c in commands:
        plan = _Plan(
            command_id=c.id,
            kind=CommandKind(c.kind),
            employee_id=c.employee_id,
            pin=c.pin,
            finger=c.finger,
            cause=c.cause,
            reference=c.reference,
            with_templates=bio,
        )
        if plan.kind in (CommandKind.PUT_USER, CommandKind.ENROL):
            employee = expected.get(c.employee_id) if c.employee_id is not None else None
            if employee is None and plan.kind is CommandKind.ENROL and c.employee_id is not None:
                # A terminal outside the employee's areas may still be where they enrol.
                employee = db.get(Employee, c.employee_id)
            if employee is None or not eligible(employee):
                # Terminated, restricted or erased since it was queued: nothing goes out.
                plan.skip = "no longer belongs on this terminal"
            else:
                plan.pin = pins.get(employee.id) or c.pin or employee.employee_code
                plan.name = employee.device_name or employee.full_name
                plan.privilege = employee.device_privilege
                card = device_card(employee.card_number)
                plan.card = card or 0
                if card is None:
                    plan.refuse = "card number is not a number a terminal can hold"
                if employee.device_password_sealed is not None:
                    if kek is None:
                        plan.refuse = "a terminal password is set but no key is loaded"
                    else:
                        plan.password = open_secret(
                            kek,
                            employee.device_password_sealed,
                            purpose=DEVICE_PASSWORD_PURPOSE,
                            owner=device_password_owner(employee.id),
                        )
                if plan.kind is CommandKind.PUT_USER:
                    plan.templates = [
                        DeviceTemplate(
                            uid=0, finger_index=o.index, flag=o.flag, template=o.template
                        )
                        for o in opened.get(employee.id, [])
                        if o.kind == "finger" and 0 <= o.index < 10
                    ]
                if plan.kind is CommandKind.ENROL and not (bio and employee.id in admitted):
                    plan.skip = "consent no longer admits enrolment"
        plans.append(plan)
    return plans


# --------------------------------------------------------------------------- 2. execute
def _execute(plan: _Plan, view: _DeviceView, client: TerminalClient) -> _Result:
    if plan.refuse is not None:
        return _Result(plan, CommandState.FAILED, error=plan.refuse)
    if plan.skip is not None:
        return _Result(plan, CommandState.DONE, outcome={"skipped": plan.skip})
    if plan.kind is CommandKind.PUT_USER:
        return _put(plan, view, client)
    if plan.kind is CommandKind.DELETE_USER:
        return _delete_user(plan, view, client)
    if plan.kind is CommandKind.DELETE_TEMPLATES:
        return _delete_templates(plan, view, client)
    if plan.kind is CommandKind.ENROL:
        return _enrol(plan, view, client)
    # RECONCILE: read everything afresh; the record step compares and queues.
    view.refresh()
    users = list(view.users().values())
    templates = view.all_templates() if plan.with_templates else []
    return _Result(plan, CommandState.DONE, users=users, templates=templates)


def _wanted_user(plan: _Plan, existing: DeviceUser | None, uid: int) -> DeviceUser:
    if plan.pin is None or plan.name is None:
        raise UnstorableUserError("no PIN or name was planned for this user")
    return DeviceUser(
        uid=uid,
        pin=plan.pin,
        name=plan.name,
        privilege=plan.privilege,
        card=plan.card,
        # The group is the terminal's own setting, kept as it is; so is a password set at
        # the terminal unless Rollcall holds one for the employee.
        group_id=existing.group_id if existing else "",
        password=plan.password
        if plan.password is not None
        else (existing.password if existing else ""),
    )


def _same_user(existing: DeviceUser, wanted: DeviceUser, client: TerminalClient) -> bool:
    size = getattr(client, "user_size", None) or 72
    encoding = getattr(getattr(client, "endpoint", None), "encoding", "utf-8")
    name = fit_text(wanted.name, name_bytes(size), encoding)
    return (existing.name, existing.privilege, existing.card, existing.password) == (
        name,
        wanted.privilege,
        wanted.card,
        wanted.password,
    )


def _put(plan: _Plan, view: _DeviceView, client: TerminalClient) -> _Result:
    if plan.pin is None:
        return _Result(plan, CommandState.FAILED, error="no PIN for this terminal")
    existing = view.users().get(plan.pin)
    uid = existing.uid if existing else view.next_uid()
    wanted = _wanted_user(plan, existing, uid)
    to_write: list[DeviceTemplate] = []
    if plan.templates:
        on_device = view.fingers(uid) if existing else {}
        to_write = [
            DeviceTemplate(uid=uid, finger_index=t.finger_index, flag=t.flag, template=t.template)
            for t in plan.templates
            if on_device.get(t.finger_index) != t.template
        ]
    same = existing is not None and _same_user(existing, wanted, client)
    if to_write:
        client.put_user(wanted, to_write)
    elif not same:
        client.put_user(wanted)
    view.put(wanted, to_write)
    user_state = "added" if existing is None else "unchanged" if same else "updated"
    return _Result(
        plan,
        CommandState.DONE,
        outcome={"user": user_state, "templates_written": len(to_write)},
    )


def _delete_user(plan: _Plan, view: _DeviceView, client: TerminalClient) -> _Result:
    existing = view.users().get(plan.pin or "")
    if existing is None:
        return _Result(plan, CommandState.DONE, outcome={"user": "absent"})
    fingers = sorted(view.fingers(existing.uid))
    for finger in fingers:
        client.delete_template(existing.uid, finger)
    client.delete_user(existing.uid)
    view.drop_user(existing)
    return _Result(
        plan, CommandState.DONE, outcome={"user": "deleted", "templates_deleted": len(fingers)}
    )


def _delete_templates(plan: _Plan, view: _DeviceView, client: TerminalClient) -> _Result:
    existing = view.users().get(plan.pin or "")
    if existing is None:
        return _Result(plan, CommandState.DONE, outcome={"user": "absent", "templates_deleted": 0})
    held = view.fingers(existing.uid)
    fingers = [plan.finger] if plan.finger is not None else sorted(held)
    deleted = 0
    for finger in fingers:
        if finger not in held:
            continue
        if not client.delete_template(existing.uid, finger):
            raise TerminalProtocolError(
                f"the terminal still holds finger {finger} after deleting it"
            )
        view.drop_finger(existing.uid, finger)
        deleted += 1
    return _Result(plan, CommandState.DONE, outcome={"templates_deleted": deleted})


def _enrol(plan: _Plan, view: _DeviceView, client: TerminalClient) -> _Result:
    if plan.finger is None or plan.pin is None:
        return _Result(plan, CommandState.FAILED, error="an enrolment needs a PIN and a finger")
    existing = view.users().get(plan.pin)
    if existing is None:
        wanted = _wanted_user(plan, None, view.next_uid())
        client.put_user(wanted)
        view.put(wanted, [])
        existing = wanted
    if not client.enrol(existing.uid, plan.pin, plan.finger):
        return _Result(
            plan,
            CommandState.FAILED,
            error="enrolment did not complete at the terminal (no finger, timeout or duplicate)",
        )
    template = client.template(existing.uid, plan.finger)
    if template is None:
        return _Result(plan, CommandState.FAILED, error="the terminal kept no template")
    return _Result(
        plan,
        CommandState.DONE,
        outcome={"enrolled": True},
        users=[existing],
        templates=[template],
    )


# --------------------------------------------------------------------------- 3. record
def _record(
    db: Session,
    terminal: Terminal,
    results: Sequence[_Result],
    *,
    kek: KeyEncryptionKey | None,
    actor: Actor,
    now: datetime,
    counts: OutboxCounts,
) -> None:
    references: set[str] = set()
    events: list[PendingEvent] = []
    for result in results:
        plan = result.plan
        command = db.get(TerminalCommand, plan.command_id)
        if command is None or command.state != CommandState.PENDING.value:
            continue  # superseded or removed while we worked: nothing to record
        if result.state is CommandState.PENDING:
            _postpone(db, terminal.id, command, result.error or "failed", now=now)
            counts.retrying += 1
            continue
        outcome = dict(result.outcome)
        if plan.kind is CommandKind.RECONCILE:
            outcome.update(_reconcile(db, terminal, result, kek=kek, actor=actor, now=now))
        elif plan.kind is CommandKind.ENROL and result.templates and kek is not None:
            absorbed = absorb_templates(
                db, terminal, result.users, result.templates, kek=kek, actor=actor, now=now
            )
            outcome.update({"stored": absorbed.stored, "refused": absorbed.refused})
        if (
            result.state is CommandState.DONE
            and plan.kind is CommandKind.DELETE_USER
            and (command.reference or "").startswith("erasure:")
        ):
            # A terminal cannot delete one person's attendance records: its next sync
            # reads the whole log into Rollcall and clears it; the erasure waits for that.
            if terminal.log_clear_requested_at is None:
                terminal.log_clear_requested_at = now
            terminal.next_attempt_at = now
            outcome["log_clear_asked"] = True
        command.state = result.state.value
        command.outcome = outcome or None
        command.last_error = result.error
        command.completed_at = now
        command.attempts += 1
        if result.state is CommandState.FAILED:
            counts.failed += 1
            logger.warning(
                "terminal %s: command %d (%s) failed: %s",
                terminal.serial_number,
                command.id,
                command.kind,
                result.error,
            )
        else:
            counts.done += 1
        event = _audit(terminal, command, result, actor)
        if event is not None:
            events.append(event)
        if command.reference:
            references.add(command.reference)
    record_events(db, events)
    for reference in sorted(references):
        _close_withdrawal(db, reference, now=now, actor=actor)


def _audit(
    terminal: Terminal, command: TerminalCommand, result: _Result, actor: Actor
) -> PendingEvent | None:
    outcome = result.outcome
    details: dict[str, Any] = {
        "terminal": terminal.serial_number,
        "command": command.id,
        "cause": command.cause,
        "state": command.state,
    }
    if command.kind == CommandKind.DELETE_TEMPLATES.value:
        details["templates_deleted"] = int(outcome.get("templates_deleted", 0))
        action = "biometric.terminal_deleted"
    elif command.kind == CommandKind.PUT_USER.value and result.plan.templates:
        # The templates were decrypted for this terminal: recorded even when it had them.
        details["templates_read"] = len(result.plan.templates)
        details["templates_written"] = int(outcome.get("templates_written", 0))
        action = "biometric.distributed"
    elif command.kind == CommandKind.DELETE_USER.value:
        action = "terminal.user_removed"
    elif command.kind == CommandKind.ENROL.value:
        action = "biometric.enrolment_finished"
    else:
        return None  # plain user writes and reconciliations are visible in the outbox itself
    return PendingEvent(
        action,
        actor,
        object_type="terminal",
        object_id=terminal.id,
        subject_employee_id=command.employee_id,
        details=details,
    )


def _postpone(
    db: Session,
    terminal_id: int,
    command: TerminalCommand | None,
    error: object,
    *,
    now: datetime,
) -> None:
    """Retry later: the failed command (or the first due one) backs off, and every other
    pending command of the terminal waits as long, so they keep their order."""
    text = f"{type(error).__name__}: {error}" if isinstance(error, Exception) else str(error)
    if command is None:
        command = db.scalars(
            select(TerminalCommand)
            .where(
                TerminalCommand.terminal_id == terminal_id,
                TerminalCommand.state == CommandState.PENDING.value,
            )
            .order_by(TerminalCommand.id)
            .limit(1)
        ).first()
        if command is None:
            return
    command.attempts += 1
    command.last_error = text[:1000]
    until = now + backoff(command.attempts)
    command.next_attempt_at = until
    db.execute(
        update(TerminalCommand)
        .where(
            TerminalCommand.terminal_id == terminal_id,
            TerminalCommand.state == CommandState.PENDING.value,
            TerminalCommand.id != command.id,
            or_(TerminalCommand.next_attempt_at.is_(None), TerminalCommand.next_attempt_at < until),
        )
        .values(next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )
    db.flush()


def _close_withdrawal(db: Session, reference: str, *, now: datetime, actor: Actor) -> None:
    if not reference.startswith("withdrawal:"):
        return
    progress = withdrawal_progress(db, reference)
    if not progress.completed:
        return
    consent = db.get(Consent, int(reference.split(":", 1)[1]))
    if consent is None or consent.terminals_cleared_at is not None:
        return
    consent.terminals_cleared_at = now
    db.flush()
    record_event(
        db,
        "consent.withdrawal_completed",
        actor=actor,
        object_type="consent",
        object_id=consent.id,
        subject_employee_id=consent.employee_id,
        details={"terminals": progress.terminals_total},
    )


def _reconcile(
    db: Session,
    terminal: Terminal,
    result: _Result,
    *,
    kek: KeyEncryptionKey | None,
    actor: Actor,
    now: datetime,
) -> dict[str, Any]:
    """Compare what the terminal holds with what it should; queue the difference."""
    device = {u.pin: u for u in result.users}
    fingers: dict[int, int] = {}
    for t in result.templates:
        fingers[t.uid] = fingers.get(t.uid, 0) + 1
    managed = terminal.area_id is not None
    expected = expected_employees(db, terminal) if managed else []
    pins = pins_for(db, expected, terminal)
    by_pin = {pins[e.id]: e for e in expected}
    vault: dict[int, int] = {}
    if expected and biometrics_enabled(db):
        rows = db.execute(
            select(BiometricTemplate.employee_id, func.count())
            .where(
                BiometricTemplate.employee_id.in_([e.id for e in expected]),
                BiometricTemplate.kind == "finger",
            )
            .group_by(BiometricTemplate.employee_id)
        ).all()
        vault = {int(eid): int(n) for eid, n in rows}
    missing = differing = removing = unknown = 0
    corrections: list[tuple[int, str]] = []
    limit = name_bytes((terminal.capabilities or {}).get("user_size") or 72)
    for pin, employee in by_pin.items():
        on_device = device.get(pin)
        wanted = (
            fit_text(employee.device_name or employee.full_name, limit, terminal.encoding),
            employee.device_privilege,
            device_card(employee.card_number) or 0,
        )
        stale = on_device is None or (on_device.name, on_device.privilege, on_device.card) != wanted
        short = on_device is not None and fingers.get(on_device.uid, 0) < vault.get(employee.id, 0)
        if on_device is None:
            missing += 1
        elif stale or short:
            differing += 1
        if stale or short:
            corrections.append((employee.id, pin))
    queue_puts(db, terminal, corrections, cause="reconcile")
    if managed:
        resolver = PinResolver(db, terminal, now)
        strays = [pin for pin in device if pin not in by_pin]
        resolver.load(strays, {pin: device[pin].name for pin in strays})
        for pin in strays:
            employee_id = resolver.employee_at(pin, now)
            if employee_id is None:
                unknown += 1  # a PIN nobody holds: an admin maps or removes it
                continue
            removing += 1
            queue_command(
                db,
                terminal,
                CommandKind.DELETE_USER,
                cause="reconcile",
                employee_id=employee_id,
                pin=pin,
            )
    absorbed = (
        absorb_templates(
            db, terminal, result.users, result.templates, kek=kek, actor=actor, now=now
        )
        if kek is not None and result.templates
        else None
    )
    outcome = {
        "expected": len(by_pin),
        "users_on_terminal": len(device),
        "missing": missing,
        "differing": differing,
        "removing": removing,
        "unknown_users": unknown,
        "templates_on_terminal": len(result.templates),
        "templates_stored": absorbed.stored if absorbed else 0,
        "templates_refused": absorbed.refused if absorbed else 0,
    }
    drift = missing + differing + removing + unknown + outcome["templates_refused"]
    if drift:
        logger.info("terminal %s: drift %s", terminal.serial_number, outcome)
        record_event(
            db,
            "terminal.drift",
            actor=actor,
            object_type="terminal",
            object_id=terminal.id,
            details={k: int(v) for k, v in outcome.items()},
        )
    return outcome
