# SPDX-License-Identifier: GPL-2.0-or-later
"""``rollcall rights``: answer an employee's access request from the command line."""

from __future__ import annotations

import os
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from server.audit.services import Actor
    from server.rights.erasure import ErasureOutcome
    from server.settings import Settings


@click.group()
def rights() -> None:
    """Data-subject rights: access packages and the request register."""


@rights.command("export")
@click.argument("employee_code")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the ZIP to this file instead of making an expiring download link.",
)
@click.option(
    "--locale",
    type=click.Choice(["en", "zh_CN"]),
    default=None,
    help="Language of the printable page (default: the employee's).",
)
@click.option("--request", "request_id", type=int, default=None, help="Register entry, if any.")
@click.option(
    "--days", type=click.IntRange(1, 30), default=7, show_default=True, help="Link lifetime."
)
@click.pass_context
def export(
    ctx: click.Context,
    employee_code: str,
    out: Path | None,
    locale: str | None,
    request_id: int | None,
    days: int,
) -> None:
    """Produce EMPLOYEE_CODE's access package: data.json, csv/*.csv and a printable index.html.

    By default it becomes a download link for a privacy officer or administrator, valid
    --days days, each fetch logged; with --out it is written to a file readable by its owner
    only. Either way the export is in the operation log.
    """
    from datetime import timedelta

    from server.audit.services import Actor
    from server.cli import _session, _settings, fail
    from server.errors import AppError
    from server.rights.access import build_access_package
    from server.rights.downloads import create_download
    from server.rights.models import RequestKind
    from server.rights.services import require_work

    settings = _settings(ctx)
    actor = Actor.system("cli")
    with _session(settings) as db:
        employee_id = _employee_id(db, employee_code)
        if request_id is not None:
            # As on the request's page: identity verified and work started (#7 review).
            try:
                req = require_work(
                    db,
                    request_id,
                    kinds=(RequestKind.ACCESS, RequestKind.COPY),
                    action="answered with a package",
                )
            except AppError as exc:
                fail(exc.message)
            if req.employee_id != employee_id:
                fail(f"request {request_id} is not {employee_code}'s")
        package = build_access_package(db, employee_id, actor=actor, locale=locale)
        data = package.to_zip()
        rows = sum(len(r) for r in package.data.values())
        summary = f"{len(data) // 1024} KiB, {rows} records in {len(package.data)} tables"
        if out is None or request_id is not None:
            # A package answering a request is always a download of the register's own:
            # the request then shows it was given (and may be completed).
            item, token = create_download(
                db,
                data_dir=settings.data_dir,
                employee_id=employee_id,
                kind="access",
                content=data,
                content_type="application/zip",
                suffix="zip",
                actor=actor,
                request_id=request_id,
                lifetime=timedelta(days=days),
            )
            click.echo(f"Access package ready ({summary}).")
            click.echo(f"Download link, valid until {item.expires_at:%Y-%m-%d %H:%M} UTC:")
            click.echo(f"  /downloads/{token}")
        if out is None:
            db.commit()
            return
        out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        db.commit()  # the audit entry of the export
    click.echo(f"Wrote {out} ({summary})")
    click.echo(
        "This file is outside Rollcall: it does not expire and an erasure cannot reach it. "
        "Delete it once it has been handed over.",
        err=True,
    )


@rights.command("register")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
def register(ctx: click.Context, out: Path) -> None:
    """Export the request register as CSV for an audit (identifiers only)."""
    from server.audit.services import Actor
    from server.cli import _session, _settings
    from server.rights.services import register_csv

    settings = _settings(ctx)
    with _session(settings) as db:
        text = register_csv(db, actor=Actor.system("cli"))
        out.write_text(text, encoding="utf-8")
        db.commit()
    click.echo(f"Wrote {out} ({text.count(chr(10)) - 1} requests)")


@rights.command("due")
@click.pass_context
def due(ctx: click.Context) -> None:
    """List open requests that are overdue or due soon; exit status 2 when any is overdue
    (for a daily reminder by cron or a systemd timer)."""
    from server.cli import _session, _settings
    from server.rights.services import deadlines

    with _session(_settings(ctx)) as db:
        found = deadlines(db)
    for d in found:
        when = "OVERDUE" if d.overdue else f"due in {d.days_left} day(s)"
        click.echo(
            f"request {d.request_id} ({d.kind}, employee {d.employee_id}): {when}, "
            f"{d.due_at:%Y-%m-%d %H:%M} UTC"
        )
    if not found:
        click.echo("No request is overdue or due soon.")
    if any(d.overdue for d in found):
        ctx.exit(2)


@rights.command("restrict")
@click.argument("employee_code")
@click.option(
    "--ground",
    required=True,
    type=click.Choice(
        [
            "accuracy_contested",
            "unlawful_processing",
            "needed_for_legal_claims",
            "objection_pending",
        ]
    ),
    help="Why processing is restricted (GDPR art. 18(1)).",
)
@click.option("--request", "request_id", type=int, default=None, help="Register entry, if any.")
@click.pass_context
def restrict(ctx: click.Context, employee_code: str, ground: str, request_id: int | None) -> None:
    """Restrict processing: the data stays stored; the employee leaves every terminal."""
    from server.audit.services import Actor
    from server.cli import _session, _settings, fail
    from server.errors import AppError
    from server.rights.models import RequestKind
    from server.rights.restriction import restrict_employee
    from server.rights.services import require_work

    with _session(_settings(ctx)) as db:
        employee_id = _employee_id(db, employee_code)
        try:
            if request_id is not None:
                req = require_work(
                    db,
                    request_id,
                    kinds=(RequestKind.RESTRICTION,),
                    action="acted on (restriction)",
                )
                if req.employee_id != employee_id:
                    fail(f"request {request_id} is not {employee_code}'s")
            removals = restrict_employee(
                db, employee_id, reason=ground, request_id=request_id, actor=Actor.system("cli")
            )
        except AppError as exc:
            fail(exc.message)
        db.commit()
        click.echo(
            f"{employee_code}: processing restricted; removal queued for {removals} terminal(s)."
        )


@rights.command("lift-restriction")
@click.argument("employee_code")
@click.option(
    "--told",
    "method",
    required=True,
    type=click.Choice(["letter", "email", "in_person"]),
    help="How the employee was told that the restriction ends (GDPR art. 18(3)).",
)
@click.option("--evidence", default=None, help="Reference of the notice (letter number, ...).")
@click.option(
    "--told-on",
    "told_on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day the employee was told, YYYY-MM-DD (default: today).",
)
@click.pass_context
def lift(
    ctx: click.Context,
    employee_code: str,
    method: str,
    evidence: str | None,
    told_on: datetime | None,
) -> None:
    """Lift a restriction after telling the employee; they return to their terminals."""
    from server.audit.services import Actor
    from server.cli import _session, _settings, fail
    from server.db import utcnow
    from server.errors import AppError
    from server.rights.restriction import lift_restriction

    now = utcnow()
    # A past day is recorded at noon UTC, like the page does; today is now.
    notified_at = (
        now
        if told_on is None or told_on.date() == now.date()
        else datetime.combine(told_on.date(), time(12), tzinfo=UTC)
    )
    with _session(_settings(ctx)) as db:
        employee_id = _employee_id(db, employee_code)
        try:
            puts = lift_restriction(
                db,
                employee_id,
                notified_at=notified_at,
                method=method,
                evidence_ref=evidence,
                actor=Actor.system("cli"),
            )
        except AppError as exc:
            fail(exc.message)
        db.commit()
        click.echo(f"{employee_code}: restriction lifted; queued for {puts} terminal(s).")


@rights.command("erase")
@click.argument("request_id", type=int)
@click.pass_context
def erase(ctx: click.Context, request_id: int) -> None:
    """Erase the employee of erasure request REQUEST_ID (identity verified, work started).

    Runs every step it can; when terminals have yet to confirm their deletes, says which and
    leaves the request waiting: the worker finishes it when they do (running this again
    resumes it too). A crash or Ctrl-C resumes where it stopped.
    """
    from server.audit.services import Actor
    from server.cli import _session, _settings, fail
    from server.errors import AppError
    from server.rights.erasure import start_erasure
    from server.rights.models import RequestKind
    from server.rights.services import erasure_run_of, require_work

    settings = _settings(ctx)
    actor = Actor.system("cli")
    with _session(settings) as db:
        run = erasure_run_of(db, request_id)
        if run is not None:
            # Resumed from its checkpoint, whatever the request's state (waiting for
            # terminals); start_erasure only opens a run for a request in progress.
            run_id = run.id
        else:
            try:
                require_work(db, request_id, kinds=(RequestKind.ERASURE,), action="erased")
                run_id = start_erasure(db, request_id, actor=actor).id
            except AppError as exc:
                fail(exc.message)
        db.commit()
    outcome = _run_on(settings, run_id, actor)
    if outcome.state == "completed":
        if not outcome.scrubbed:
            click.echo("The database log was busy; it is cleared at the next run.", err=True)
    else:
        click.echo(
            f"Erasure {run_id}: waiting for {len(outcome.waiting_on)} terminal(s) to confirm: "
            + ", ".join(outcome.waiting_on)
        )


@rights.command("erasure")
@click.argument("run_id", type=int)
@click.pass_context
def erasure_receipt(ctx: click.Context, run_id: int) -> None:
    """Show erasure RUN_ID's receipt and whether it matches the operation log."""
    import json

    from server.cli import _session, _settings, fail
    from server.rights.erasure import verify_receipt
    from server.rights.models import ErasureRun

    with _session(_settings(ctx)) as db:
        run = db.get(ErasureRun, run_id)
        if run is None:
            fail(f"no erasure {run_id}")
        click.echo(
            f"Erasure {run.id}: {run.state}, step {run.next_step}/{len(run.receipt['plan'])}"
        )
        click.echo(json.dumps(run.receipt, indent=2, sort_keys=True))
        if run.receipt_digest is not None:
            ok = verify_receipt(db, run.id)
            click.echo(f"Receipt {'matches' if ok else 'DOES NOT MATCH'} the operation log.")
            if not ok:
                ctx.exit(1)


@rights.command("replay-erasures")
@click.pass_context
def replay(ctx: click.Context) -> None:
    """After restoring a backup: erase again every record the tombstone file says was erased.

    A tombstone names a record by its id and its creation instant: a record that merely has
    the same id (someone hired after the backup) is reported, never erased. Running it again
    changes nothing. Exit status 2 when a tombstone was not replayed for such a mismatch.
    """
    from server.audit.services import Actor
    from server.cli import _settings, fail
    from server.db import make_engine, make_sessionmaker
    from server.errors import AppError
    from server.rights.erasure import replay_erasures

    settings = _settings(ctx)
    engine = make_engine(settings.database_url)
    try:
        report = replay_erasures(
            make_sessionmaker(engine), data_dir=settings.data_dir, actor=Actor.system("cli")
        )
    except AppError as exc:
        fail(exc.message)
    finally:
        engine.dispose()
    waiting = [o for o in report.outcomes if o.state != "completed"]
    click.echo(
        f"Replayed {len(report.outcomes)} erasure(s); {len(waiting)} waiting for terminals; "
        f"{report.already_erased} already erased; {report.absent} not in this database."
    )
    for run, employee in report.other_record:
        click.echo(
            f"NOT REPLAYED: erasure {run}: employee id {employee} is now another record "
            "(created at another instant); it was left as it is.",
            err=True,
        )
    for run, employee in report.newer_record:
        click.echo(
            f"NOT REPLAYED: erasure {run} (old tombstone, id only): employee id {employee} "
            "was created after that erasure, so it is someone else; check it and erase it "
            "through a request if it is the same person.",
            err=True,
        )
    if report.other_record or report.newer_record:
        ctx.exit(2)


@rights.command("retry-erasure")
@click.argument("run_id", type=int)
@click.pass_context
def retry_erasure(ctx: click.Context, run_id: int) -> None:
    """Ask the terminals of erasure RUN_ID again now: deletes they refused are queued again
    and waiting ones run at the worker's next pass (a disabled terminal's when enabled)."""
    from server.audit.services import Actor
    from server.cli import _session, _settings, fail
    from server.errors import AppError
    from server.rights.erasure import retry_terminal_deletes

    with _session(_settings(ctx)) as db:
        try:
            asked = retry_terminal_deletes(db, run_id, actor=Actor.system("cli"))
        except AppError as exc:
            fail(exc.message)
        db.commit()
    if asked:
        click.echo(f"Erasure {run_id}: asked again: " + ", ".join(asked))
    else:
        click.echo(f"Erasure {run_id}: no terminal is waiting.")


@rights.command("confirm-terminal")
@click.argument("run_id", type=int)
@click.argument("serial")
@click.option(
    "--how",
    required=True,
    type=click.Choice(["deleted_at_terminal", "terminal_reset", "terminal_destroyed"]),
    help="How the terminal was cleared: the user deleted in its menu, a factory reset, or "
    "the terminal destroyed or its storage wiped.",
)
@click.pass_context
def confirm_terminal(ctx: click.Context, run_id: int, serial: str, how: str) -> None:
    """Record that terminal SERIAL, which Rollcall cannot reach (a push terminal, one broken
    or stolen), was cleared by hand of the employee of erasure RUN_ID; the erasure then runs
    on and completes if no other terminal waits. The receipt marks it as confirmed by hand."""
    from server.audit.services import Actor
    from server.cli import _session, _settings, fail
    from server.errors import AppError
    from server.rights.erasure import confirm_by_hand

    settings = _settings(ctx)
    actor = Actor.system("cli")
    with _session(settings) as db:
        try:
            confirm_by_hand(db, run_id, serial, how=how, actor=actor)
        except AppError as exc:
            fail(exc.message)
        db.commit()
    outcome = _run_on(settings, run_id, actor)
    if outcome.state != "completed":
        click.echo(
            f"Erasure {run_id}: {serial} confirmed by hand; still waiting for: "
            + ", ".join(outcome.waiting_on)
        )


@rights.command("purge-expired")
@click.pass_context
def purge(ctx: click.Context) -> None:
    """Remove expired download files and what erased employees' data was kept for, once
    its retention has ended (run daily)."""
    from server.audit.services import Actor
    from server.cli import _settings
    from server.db import make_engine, make_sessionmaker
    from server.rights.downloads import purge_expired_downloads
    from server.rights.erasure import purge_expired, scrub_storage

    settings = _settings(ctx)
    actor = Actor.system("cli")
    engine = make_engine(settings.database_url)
    try:
        sessions = make_sessionmaker(engine)
        with sessions() as db:
            files = purge_expired_downloads(db, data_dir=settings.data_dir, actor=actor)
            rows = purge_expired(db, actor=actor)
            db.commit()
        if rows:
            scrub_storage(sessions, rows)
    finally:
        engine.dispose()
    click.echo(f"Removed {files} expired download(s) and {sum(rows.values())} kept row(s).")


def _employee_id(db: Session, code: str) -> int:
    from server.cli import fail
    from server.employees.models import Employee

    employee_id = db.scalar(select(Employee.id).where(Employee.employee_code == code))
    if employee_id is None:
        fail(f"no employee with code {code!r}")
    return int(employee_id)


def _run_on(settings: Settings, run_id: int, actor: Actor) -> ErasureOutcome:
    """Run erasure RUN_ID's remaining steps on an engine of its own; says so if it
    completed."""
    from server.db import make_engine, make_sessionmaker
    from server.rights.erasure import run_erasure

    engine = make_engine(settings.database_url)
    try:
        outcome = run_erasure(
            make_sessionmaker(engine), run_id, data_dir=settings.data_dir, actor=actor
        )
    finally:
        engine.dispose()
    if outcome.state == "completed":
        click.echo(f"Erasure {run_id} completed; its receipt is in the operation log.")
    return outcome
