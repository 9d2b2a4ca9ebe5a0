# SPDX-License-Identifier: GPL-2.0-or-later
"""Which people belong on which terminal, and the outbox that gets them there (issue #5).

A terminal with an area is *managed*: Rollcall keeps on it exactly the active, unrestricted
employees of that area and of the areas above it, with their templates where consent allows.
A terminal without an area is left as it is (only the consent gate applies to templates
read from it), so installing Rollcall never empties a terminal nobody has placed yet.

Services queue commands in the caller's transaction (flush, no commit): the change and its
commands commit together or not at all. The worker executes them (``terminals/outbox.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import case, func, insert, or_, select, update
from sqlalchemy.orm import Session

from server.attendance.models import Punch
from server.audit.services import Actor, record_event
from server.db import utcnow
from server.devices.models import (
    CommandKind,
    CommandState,
    PinMapping,
    Terminal,
    TerminalCommand,
)
from server.employees.models import Employee, EmployeeStatus, employee_areas
from server.enrolment.models import BiometricTemplate
from server.errors import NotFoundError, ValidationError
from server.organization.models import Area

BINARY = ("tcp", "udp")
RECONCILE_EVERY = timedelta(hours=24)


# --------------------------------------------------------------------------- who goes where
def _area_parents(db: Session) -> dict[int, int | None]:
    rows = db.execute(select(Area.id, Area.parent_id)).all()
    return {int(aid): parent for aid, parent in rows}


def area_with_ancestors(db: Session, area_id: int) -> set[int]:
    """The area and every area above it: their employees belong on its terminals."""
    parents = _area_parents(db)
    out: set[int] = set()
    current: int | None = area_id
    while current is not None and current not in out:
        out.add(current)
        current = parents.get(current)
    return out


def area_with_descendants(db: Session, area_ids: Iterable[int]) -> set[int]:
    parents = _area_parents(db)
    out = set(area_ids)
    grew = True
    while grew:
        grew = False
        for aid, parent in parents.items():
            if parent in out and aid not in out:
                out.add(aid)
                grew = True
    return out


def binary_terminals(db: Session) -> list[Terminal]:
    """Every enabled terminal Rollcall writes to over the binary protocol."""
    return list(
        db.scalars(
            select(Terminal)
            .where(Terminal.enabled.is_(True), Terminal.transport.in_(BINARY))
            .order_by(Terminal.id)
        )
    )


def eligible(employee: Employee) -> bool:
    """Whether the employee belongs on terminals at all: active, unrestricted, not erased."""
    return (
        employee.status == EmployeeStatus.ACTIVE
        and employee.restricted_at is None
        and employee.erased_at is None
    )


def terminals_for(db: Session, employee: Employee) -> list[Terminal]:
    """The managed terminals this employee belongs on now (none unless eligible)."""
    if not eligible(employee):
        return []
    own: set[int] = set(
        db.scalars(
            select(employee_areas.c.area_id).where(employee_areas.c.employee_id == employee.id)
        )
    )
    if not own:
        return []
    areas = area_with_descendants(db, own)
    return [t for t in binary_terminals(db) if t.area_id is not None and t.area_id in areas]


def expected_employees(db: Session, terminal: Terminal) -> list[Employee]:
    """The employees a managed terminal should hold; empty for an unmanaged one."""
    if terminal.area_id is None:
        return []
    areas = area_with_ancestors(db, terminal.area_id)
    return list(
        db.scalars(
            select(Employee)
            .join(employee_areas, employee_areas.c.employee_id == Employee.id)
            .where(
                employee_areas.c.area_id.in_(areas),
                Employee.status == EmployeeStatus.ACTIVE,
                Employee.restricted_at.is_(None),
                Employee.erased_at.is_(None),
            )
            .distinct()
            .order_by(Employee.id)
        )
    )


def pins_for(
    db: Session, employees: Sequence[Employee], terminal: Terminal, *, at: datetime | None = None
) -> dict[int, str]:
    """Each employee's PIN on ``terminal`` now: a terminal-specific mapping, else an
    organization-wide one, else the employee code (the usual set-up)."""
    at = at or utcnow()
    ids = [e.id for e in employees]
    found: dict[int, tuple[bool, str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = db.execute(
            select(PinMapping.employee_id, PinMapping.terminal_id, PinMapping.pin).where(
                PinMapping.employee_id.in_(chunk),
                or_(PinMapping.terminal_id == terminal.id, PinMapping.terminal_id.is_(None)),
                PinMapping.valid_from <= at,
                or_(PinMapping.valid_until.is_(None), PinMapping.valid_until > at),
            )
        ).all()
        for employee_id, terminal_id, pin in rows:
            if employee_id is None:
                continue
            specific = terminal_id is not None
            if employee_id not in found or (specific and not found[employee_id][0]):
                found[employee_id] = (specific, pin)
    return {e.id: found[e.id][1] if e.id in found else e.employee_code for e in employees}


def pin_for(db: Session, employee: Employee, terminal: Terminal) -> str:
    return pins_for(db, [employee], terminal)[employee.id]


# --------------------------------------------------------------------------- the outbox
def queue_command(
    db: Session,
    terminal: Terminal,
    kind: CommandKind,
    *,
    cause: str,
    employee_id: int | None = None,
    pin: str | None = None,
    finger: int | None = None,
    reference: str | None = None,
) -> TerminalCommand:
    """Add a command to the terminal's outbox, in the caller's transaction.

    A new put or delete of a person replaces a still-pending put of the same person on the
    same terminal (the newest wish wins; deletes are never replaced). The same pending
    command twice is queued once.
    """
    if finger is not None and not 0 <= finger < 10:
        raise ValidationError(_("Fingers are numbered 0 to 9."))
    pending = TerminalCommand.state == CommandState.PENDING.value
    same: TerminalCommand | None = None
    if kind is not CommandKind.PUT_USER:  # a pending put of this person is superseded below
        same = db.scalars(
            select(TerminalCommand).where(
                TerminalCommand.terminal_id == terminal.id,
                pending,
                TerminalCommand.kind == kind.value,
                TerminalCommand.employee_id.is_(None)
                if employee_id is None
                else TerminalCommand.employee_id == employee_id,
                TerminalCommand.pin.is_(None) if pin is None else TerminalCommand.pin == pin,
                TerminalCommand.finger.is_(None)
                if finger is None
                else TerminalCommand.finger == finger,
            )
        ).first()
    if same is not None and kind is not CommandKind.ENROL and same.reference == reference:
        return same
    if employee_id is not None and kind in (
        CommandKind.PUT_USER,
        CommandKind.DELETE_USER,
    ):
        db.execute(
            update(TerminalCommand)
            .where(
                TerminalCommand.terminal_id == terminal.id,
                TerminalCommand.employee_id == employee_id,
                TerminalCommand.kind == CommandKind.PUT_USER.value,
                pending,
            )
            .values(state=CommandState.SUPERSEDED.value, completed_at=utcnow())
            # The outbox may hold these rows in its session: keep them current.
            .execution_options(synchronize_session="fetch")
        )
    command = TerminalCommand(
        terminal_id=terminal.id,
        kind=kind.value,
        employee_id=employee_id,
        pin=pin,
        finger=finger,
        cause=cause,
        reference=reference,
        state=CommandState.PENDING.value,
        attempts=0,
    )
    db.add(command)
    db.flush()
    return command


def queue_puts(
    db: Session, terminal: Terminal, people: Sequence[tuple[int, str]], *, cause: str
) -> int:
    """:func:`queue_command` of a put for many (employee id, PIN) at once (reconciliation):
    one statement supersedes their pending puts, one inserts the new ones."""
    now = utcnow()
    for start in range(0, len(people), 500):
        chunk = people[start : start + 500]
        db.execute(
            update(TerminalCommand)
            .where(
                TerminalCommand.terminal_id == terminal.id,
                TerminalCommand.employee_id.in_([e for e, _ in chunk]),
                TerminalCommand.kind == CommandKind.PUT_USER.value,
                TerminalCommand.state == CommandState.PENDING.value,
            )
            .values(state=CommandState.SUPERSEDED.value, completed_at=now)
            .execution_options(synchronize_session="fetch")
        )
        db.execute(
            insert(TerminalCommand),
            [
                {
                    "terminal_id": terminal.id,
                    "kind": CommandKind.PUT_USER.value,
                    "employee_id": employee_id,
                    "pin": pin,
                    "cause": cause,
                    "state": CommandState.PENDING.value,
                    "attempts": 0,
                    "created_at": now,
                }
                for employee_id, pin in chunk
            ],
        )
    db.flush()
    return len(people)


def _queue_each(
    db: Session,
    terminals: Iterable[Terminal],
    kind: CommandKind,
    employee: Employee,
    *,
    cause: str,
    reference: str | None = None,
) -> list[TerminalCommand]:
    """The same command about one employee for each of ``terminals``, with their PIN there."""
    return [
        queue_command(
            db,
            terminal,
            kind,
            cause=cause,
            employee_id=employee.id,
            pin=pin_for(db, employee, terminal),
            reference=reference,
        )
        for terminal in terminals
    ]


def put_everywhere(db: Session, employee: Employee, *, cause: str) -> list[TerminalCommand]:
    """Queue the employee's record (and templates) to every terminal they belong on."""
    return _queue_each(db, terminals_for(db, employee), CommandKind.PUT_USER, employee, cause=cause)


@dataclass(frozen=True, slots=True)
class Holders:
    """Where an employee may be held: the terminals to clear, and the serial numbers of
    terminals that held them but are no longer registered in Rollcall."""

    terminals: list[Terminal]
    gone: list[str]


def holding_terminals(db: Session, employee_id: int) -> Holders:
    """Every terminal that may hold the employee's user record, PIN or templates.

    Every enabled binary terminal (someone may have enrolled them by hand), and every
    terminal, enabled or not, whatever its transport, that ever held them: where a command
    about them ran or was tried, where a PIN was mapped to them, where they punched, where
    one of their templates was read. Serial numbers of such terminals that Rollcall no
    longer knows are returned apart.
    """
    ids: set[int] = set(
        db.scalars(
            select(TerminalCommand.terminal_id)
            .where(
                TerminalCommand.employee_id == employee_id,
                or_(
                    TerminalCommand.state.in_((CommandState.DONE.value, CommandState.FAILED.value)),
                    TerminalCommand.attempts > 0,
                ),
            )
            .distinct()
        )
    )
    ids |= set(
        db.scalars(
            select(PinMapping.terminal_id)
            .where(PinMapping.employee_id == employee_id, PinMapping.terminal_id.is_not(None))
            .distinct()
        )
    )
    serials: set[str] = set(
        db.scalars(select(Punch.terminal_serial).where(Punch.employee_id == employee_id).distinct())
    )
    serials |= {
        s
        for s in db.scalars(
            select(BiometricTemplate.source_terminal_serial)
            .where(BiometricTemplate.employee_id == employee_id)
            .distinct()
        )
        if s
    }
    known = {t.serial_number: t for t in db.scalars(select(Terminal))}
    by_id = {t.id: t for t in known.values()}
    chosen = {t.id for t in known.values() if t.enabled and t.transport in BINARY}
    chosen |= {i for i in ids if i in by_id}
    chosen |= {known[s].id for s in serials if s in known}
    return Holders(
        terminals=[by_id[i] for i in sorted(chosen)],
        gone=sorted(s for s in serials if s not in known),
    )


def remove_everywhere(
    db: Session,
    employee: Employee,
    *,
    cause: str,
    reference: str | None = None,
    holders: Holders | None = None,
) -> list[TerminalCommand]:
    """Queue deleting the employee from every terminal that may hold them
    (:func:`holding_terminals`).

    Every terminal, not only the managed ones: a terminated employee must not clock in at a
    terminal someone enrolled them on by hand. A disabled terminal's delete waits in its
    outbox until it is enabled again; a push terminal's until commands are sent over ADMS.
    ``holders``: what :func:`holding_terminals` returned, when the caller has it already.
    """
    return _queue_each(
        db,
        (holders or holding_terminals(db, employee.id)).terminals,
        CommandKind.DELETE_USER,
        employee,
        cause=cause,
        reference=reference,
    )


def set_employee_areas(
    db: Session, employee_id: int, area_ids: Iterable[int], *, actor: Actor
) -> tuple[list[TerminalCommand], list[TerminalCommand]]:
    """Give the employee exactly these areas; queue puts where they now belong and deletes
    where they no longer do. Returns (puts, deletes)."""
    employee = db.get(Employee, employee_id)
    if employee is None or employee.erased_at is not None:
        raise NotFoundError(_("No such employee."))
    wanted = sorted(set(area_ids))
    known = set(db.scalars(select(Area.id).where(Area.id.in_(wanted)))) if wanted else set()
    if missing := [a for a in wanted if a not in known]:
        raise ValidationError(_("No such area: %(id)s.", id=missing[0]), details={"field": "areas"})
    before = {t.id for t in terminals_for(db, employee)}
    current: set[int] = set(
        db.scalars(
            select(employee_areas.c.area_id).where(employee_areas.c.employee_id == employee_id)
        )
    )
    if current - set(wanted):
        db.execute(
            employee_areas.delete().where(
                employee_areas.c.employee_id == employee_id,
                employee_areas.c.area_id.in_(current - set(wanted)),
            )
        )
    if set(wanted) - current:
        db.execute(
            employee_areas.insert(),
            [{"employee_id": employee_id, "area_id": a} for a in sorted(set(wanted) - current)],
        )
    db.flush()
    db.expire(employee, ["areas"])
    after = terminals_for(db, employee)
    added = [t for t in after if t.id not in before]
    puts = _queue_each(db, added, CommandKind.PUT_USER, employee, cause="area_change")
    gone = before - {t.id for t in after}
    left = [t for t in binary_terminals(db) if t.id in gone]
    deletes = _queue_each(db, left, CommandKind.DELETE_USER, employee, cause="area_change")
    record_event(
        db,
        "employee.areas_changed",
        actor=actor,
        object_type="employee",
        object_id=employee_id,
        subject_employee_id=employee_id,
        details={
            "areas": ",".join(str(a) for a in wanted),
            "terminals_added": len(puts),
            "terminals_removed": len(deletes),
        },
    )
    return puts, deletes


def set_terminal_area(
    db: Session, terminal_id: int, area_id: int | None, *, actor: Actor
) -> TerminalCommand | None:
    """Place a terminal in an area (or take it out); a placed terminal is reconciled."""
    terminal = db.get(Terminal, terminal_id)
    if terminal is None:
        raise NotFoundError(_("No such terminal."))
    if area_id is not None and db.get(Area, area_id) is None:
        raise ValidationError(_("No such area."), details={"field": "area"})
    previous = terminal.area_id
    terminal.area_id = area_id
    db.flush()
    record_event(
        db,
        "terminal.area_changed",
        actor=actor,
        object_type="terminal",
        object_id=terminal.id,
        details={"from": previous, "to": area_id},
    )
    if area_id is None or terminal.transport not in BINARY:
        return None
    return queue_command(db, terminal, CommandKind.RECONCILE, cause="area_change")


def withdrawal_reference(consent_id: int) -> str:
    return f"withdrawal:{consent_id}"


def queue_template_deletion(
    db: Session, employee: Employee, *, cause: str, reference: str | None
) -> list[TerminalCommand]:
    """Delete every template of the employee on every binary terminal that may hold them
    (withdrawal): every enabled one, and every one that ever held them, enabled or not
    (:func:`holding_terminals`). A disabled terminal's delete waits until it is enabled, and
    the withdrawal stays open until then: the templates are still in it."""
    return _queue_each(
        db,
        [t for t in holding_terminals(db, employee.id).terminals if t.transport in BINARY],
        CommandKind.DELETE_TEMPLATES,
        employee,
        cause=cause,
        reference=reference,
    )


def queue_enrolment(
    db: Session, employee_id: int, terminal_id: int, finger: int, *, actor: Actor
) -> TerminalCommand:
    """Ask a terminal to enrol one finger of an employee who has consented (C1).

    The employee is put on the terminal first if they are not there yet; the template comes
    back through the consent gate and is then distributed to their other terminals.
    """
    from biometrics.gate import check_admission
    from server.privacy.services import DbConsentReader

    employee = db.get(Employee, employee_id)
    if employee is None or employee.erased_at is not None:
        raise NotFoundError(_("No such employee."))
    terminal = db.get(Terminal, terminal_id)
    if terminal is None or not terminal.enabled or terminal.transport not in BINARY:
        raise NotFoundError(_("No such terminal, or it cannot enrol over the binary protocol."))
    if not eligible(employee):
        raise ValidationError(_("Only an active, unrestricted employee can be enrolled."))
    admission = check_admission(employee_id, on=utcnow().date(), consents=DbConsentReader(db))
    if not admission.admitted:
        from server.i18n import label

        assert admission.reason is not None  # noqa: S101 -- a refusal always has a reason
        raise ValidationError(
            _(
                "Biometric enrolment needs a recorded consent for the notice in force "
                "(%(reason)s).",
                reason=label("consent_refusal", admission.reason.value),
            ),
            details={"reason": admission.reason.value},
        )
    command = queue_command(
        db,
        terminal,
        CommandKind.ENROL,
        cause="enrolment",
        employee_id=employee_id,
        pin=pin_for(db, employee, terminal),
        finger=finger,
    )
    record_event(
        db,
        "biometric.enrolment_requested",
        actor=actor,
        object_type="terminal",
        object_id=terminal.id,
        subject_employee_id=employee_id,
        details={"finger": finger, "command": command.id},
    )
    return command


def schedule_reconciliation(
    db: Session, *, now: datetime | None = None, every: timedelta = RECONCILE_EVERY
) -> int:
    """Queue a reconcile for each managed terminal not reconciled within ``every``."""
    now = now or utcnow()
    recent = (
        select(TerminalCommand.terminal_id)
        .where(
            TerminalCommand.kind == CommandKind.RECONCILE.value,
            or_(
                TerminalCommand.state == CommandState.PENDING.value,
                TerminalCommand.created_at > now - every,
            ),
        )
        .scalar_subquery()
    )
    due = db.scalars(
        select(Terminal).where(
            Terminal.enabled.is_(True),
            Terminal.transport.in_(BINARY),
            Terminal.area_id.is_not(None),
            Terminal.id.not_in(recent),
        )
    ).all()
    for terminal in due:
        queue_command(db, terminal, CommandKind.RECONCILE, cause="schedule")
    return len(due)


# --------------------------------------------------------------------------- reading it
@dataclass(frozen=True, slots=True)
class OutboxSummary:
    terminal_id: int
    pending: int
    retrying: int
    failed: int
    oldest_pending_at: datetime | None


def outbox_summary(db: Session) -> dict[int, OutboxSummary]:
    """Per terminal: how many commands wait, how many are retrying, how many failed."""
    counts: dict[int, dict[str, int]] = {}
    oldest: dict[int, datetime] = {}
    rows = db.execute(
        select(
            TerminalCommand.terminal_id,
            TerminalCommand.state,
            func.count(),
            func.sum(case((TerminalCommand.attempts > 0, 1), else_=0)),
            func.min(TerminalCommand.created_at),
        )
        .where(TerminalCommand.state.in_((CommandState.PENDING.value, CommandState.FAILED.value)))
        .group_by(TerminalCommand.terminal_id, TerminalCommand.state)
    ).all()
    for row in rows:
        tid, state, count = int(row[0]), str(row[1]), int(row[2])
        c = counts.setdefault(tid, {"pending": 0, "retrying": 0, "failed": 0})
        if state == CommandState.FAILED.value:
            c["failed"] += count
            continue
        c["pending"] += count
        c["retrying"] += int(row[3] or 0)
        oldest[tid] = row[4]
    return {
        tid: OutboxSummary(tid, c["pending"], c["retrying"], c["failed"], oldest.get(tid))
        for tid, c in counts.items()
    }


def list_commands(
    db: Session,
    *,
    terminal_id: int | None = None,
    states: Sequence[str] = (CommandState.PENDING.value, CommandState.FAILED.value),
    limit: int = 200,
) -> list[TerminalCommand]:
    query = select(TerminalCommand).where(TerminalCommand.state.in_(list(states)))
    if terminal_id is not None:
        query = query.where(TerminalCommand.terminal_id == terminal_id)
    return list(db.scalars(query.order_by(TerminalCommand.id).limit(limit)))


@dataclass(frozen=True, slots=True)
class WithdrawalProgress:
    reference: str
    terminals_total: int
    terminals_confirmed: int
    waiting_on: list[str]  # serial numbers
    completed: bool


def withdrawal_progress(db: Session, reference: str) -> WithdrawalProgress:
    rows = db.execute(
        select(TerminalCommand.state, Terminal.serial_number)
        .join(Terminal, Terminal.id == TerminalCommand.terminal_id)
        .where(
            TerminalCommand.reference == reference,
            TerminalCommand.kind == CommandKind.DELETE_TEMPLATES.value,
        )
        .order_by(Terminal.serial_number)
    ).all()
    waiting = [serial for state, serial in rows if state != CommandState.DONE.value]
    return WithdrawalProgress(
        reference=reference,
        terminals_total=len(rows),
        terminals_confirmed=len(rows) - len(waiting),
        waiting_on=waiting,
        completed=not waiting,
    )
