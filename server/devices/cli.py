# SPDX-License-Identifier: GPL-2.0-or-later
"""Areas, placing terminals, the outbox and remote enrolment from the command line (#5).

``rollcall areas add|list``, ``rollcall employees areas``, ``rollcall terminals place``,
``rollcall terminals outbox`` and ``rollcall terminals enrol``: what an IT admin needs to
set up distribution before (and besides) the web UI.
"""

from __future__ import annotations

from typing import Any, cast

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

ACTOR_KIND = "cli"


def _actor() -> Any:
    from server.audit.services import Actor

    return Actor.system(ACTOR_KIND)


def _area(db: Session, code: str) -> Any:
    from server.cli import fail
    from server.organization.models import Area

    found = db.scalars(select(Area).where(Area.code == code)).first()
    if found is None:
        fail(f"no area with code {code!r} (see `rollcall areas list`)")
    return found


def _employee(db: Session, code: str) -> Any:
    from server.cli import fail
    from server.employees.models import Employee

    found = db.scalars(select(Employee).where(Employee.employee_code == code)).first()
    if found is None or found.erased_at is not None:
        fail(f"no employee with code {code!r}")
    return found


def _terminal(db: Session, serial: str) -> Any:
    from server.cli import fail
    from server.devices.models import Terminal

    found = db.scalars(select(Terminal).where(Terminal.serial_number == serial)).first()
    if found is None:
        fail(f"no terminal with serial {serial!r} (see `rollcall terminals list`)")
    return found


# --------------------------------------------------------------------------- areas
@click.group()
def areas() -> None:
    """Areas: places with terminals; employees of an area go on its terminals."""


@areas.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--parent", default=None, help="Code of the area this one is inside.")
@click.pass_context
def areas_add(ctx: click.Context, code: str, name: str, parent: str | None) -> None:
    """Create an area (employees of a parent area also go on its terminals)."""
    from server.audit.services import record_event
    from server.cli import _session, _settings, fail
    from server.organization.models import Area

    code, name = code.strip(), name.strip()
    if not code or len(code) > 32 or not name or len(name) > 200:
        fail("an area code is 1-32 characters and its name 1-200")
    with _session(_settings(ctx)) as db:
        if db.scalar(select(Area.id).where(Area.code == code)):
            fail(f"an area with code {code!r} exists already")
        parent_id = _area(db, parent).id if parent else None
        row = Area(code=code, name=name, parent_id=parent_id)
        db.add(row)
        db.flush()
        record_event(db, "area.created", actor=_actor(), object_type="area", object_id=row.id)
        db.commit()
        click.echo(f"Area {code} created.")


@areas.command("list")
@click.pass_context
def areas_list(ctx: click.Context) -> None:
    """Areas with their terminals and how many employees each has."""
    from sqlalchemy import func

    from server.cli import _session, _settings
    from server.devices.models import Terminal
    from server.employees.models import employee_areas
    from server.organization.models import Area

    with _session(_settings(ctx)) as db:
        rows = db.scalars(select(Area).order_by(Area.code)).all()
        if not rows:
            click.echo("No areas yet: add one with `rollcall areas add CODE NAME`.")
            return
        codes = {a.id: a.code for a in rows}
        people: dict[int, int] = {}
        for aid, n in db.execute(
            select(employee_areas.c.area_id, func.count()).group_by(employee_areas.c.area_id)
        ).all():
            people[cast(int, aid)] = cast(int, n)
        click.echo(f"{'CODE':<16} {'PARENT':<16} {'EMPLOYEES':>9}  TERMINALS")
        for a in rows:
            serials = db.scalars(
                select(Terminal.serial_number).where(Terminal.area_id == a.id)
            ).all()
            parent = codes.get(a.parent_id, "") if a.parent_id else ""
            click.echo(f"{a.code:<16} {parent:<16} {people.get(a.id, 0):>9}  {', '.join(serials)}")


# --------------------------------------------------------------------------- employees
@click.group()
def employees() -> None:
    """Employees on terminals."""


@employees.command("areas")
@click.argument("employee_code")
@click.argument("area_codes", nargs=-1)
@click.pass_context
def employees_areas(ctx: click.Context, employee_code: str, area_codes: tuple[str, ...]) -> None:
    """Set an employee's areas (none: off every managed terminal); terminals follow."""
    from server.cli import _session, _settings, fail
    from server.devices.distribution import set_employee_areas
    from server.errors import AppError

    with _session(_settings(ctx)) as db:
        employee = _employee(db, employee_code)
        ids = [_area(db, code).id for code in area_codes]
        try:
            puts, deletes = set_employee_areas(db, employee.id, ids, actor=_actor())
        except AppError as exc:
            fail(exc.message)
        db.commit()
        click.echo(
            f"{employee_code}: areas {', '.join(area_codes) or '(none)'}; queued for "
            f"{len(puts)} terminal(s), removal from {len(deletes)}. The worker applies it."
        )


# --------------------------------------------------------------------------- terminals
@click.command("place")
@click.argument("serial")
@click.argument("area_code", required=False)
@click.pass_context
def terminals_place(ctx: click.Context, serial: str, area_code: str | None) -> None:
    """Put a terminal in an area (it then holds exactly that area's people), or, without
    AREA_CODE, take it out (Rollcall stops managing who is on it)."""
    from server.cli import _session, _settings
    from server.devices.distribution import set_terminal_area

    with _session(_settings(ctx)) as db:
        terminal = _terminal(db, serial)
        area_id = _area(db, area_code).id if area_code else None
        set_terminal_area(db, terminal.id, area_id, actor=_actor())
        db.commit()
        if area_id is None:
            click.echo(f"{serial} is no longer managed; the people on it stay as they are.")
        else:
            click.echo(f"{serial} placed in {area_code}; a reconciliation is queued.")


@click.command("outbox")
@click.argument("serial", required=False)
@click.option("--all", "show_all", is_flag=True, help="Include done and superseded commands.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_context
def terminals_outbox(ctx: click.Context, serial: str | None, show_all: bool, limit: int) -> None:
    """Commands waiting for terminals, retrying or failed (with their reason)."""
    from server.cli import _session, _settings
    from server.devices.distribution import list_commands, outbox_summary
    from server.devices.models import CommandState, Terminal

    with _session(_settings(ctx)) as db:
        terminal_id = _terminal(db, serial).id if serial else None
        summary = outbox_summary(db)
        serials = dict(db.execute(select(Terminal.id, Terminal.serial_number)).all())
        if not serial:
            click.echo(f"{'TERMINAL':<16} {'PENDING':>7} {'RETRYING':>8} {'FAILED':>6}  OLDEST")
            for tid, s in sorted(summary.items()):
                oldest = f"{s.oldest_pending_at:%Y-%m-%d %H:%M}" if s.oldest_pending_at else ""
                click.echo(
                    f"{serials.get(tid, tid):<16} {s.pending:>7} {s.retrying:>8} "
                    f"{s.failed:>6}  {oldest}"
                )
            if not summary:
                click.echo("(every outbox is empty)")
            click.echo("")
        states = [s.value for s in CommandState] if show_all else None
        rows = list_commands(
            db,
            terminal_id=terminal_id,
            limit=limit,
            **({"states": states} if states else {}),
        )
        click.echo(
            f"{'ID':>7} {'TERMINAL':<16} {'KIND':<16} {'PIN':<10} {'STATE':<10} {'TRIES':>5}  "
            "CAUSE / LAST ERROR"
        )
        for c in rows:
            note = c.last_error or c.cause
            click.echo(
                f"{c.id:>7} {serials.get(c.terminal_id, ''):<16} {c.kind:<16} "
                f"{c.pin or '':<10} {c.state:<10} {c.attempts:>5}  {note[:70]}"
            )


@click.command("enrol")
@click.argument("employee_code")
@click.argument("serial")
@click.argument("finger", type=click.IntRange(0, 9))
@click.pass_context
def terminals_enrol(ctx: click.Context, employee_code: str, serial: str, finger: int) -> None:
    """Start enrolling FINGER (0-9) of an employee with consent at a terminal's sensor."""
    from server.cli import _session, _settings, fail
    from server.devices.distribution import queue_enrolment
    from server.errors import AppError

    with _session(_settings(ctx)) as db:
        employee = _employee(db, employee_code)
        terminal = _terminal(db, serial)
        try:
            command = queue_enrolment(db, employee.id, terminal.id, finger, actor=_actor())
        except AppError as exc:
            fail(exc.message)
        db.commit()
        click.echo(
            f"Enrolment queued (command {command.id}): the worker starts it at {serial}; "
            "the employee presents the finger three times."
        )
