# SPDX-License-Identifier: GPL-2.0-or-later
"""``rollcall rights``: answer an employee's access request from the command line."""

from __future__ import annotations

import os
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session


@click.group()
def rights() -> None:
    """Data-subject rights: access packages and the request register."""


@rights.command("export")
@click.argument("employee_code")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the ZIP (default: the instance's data/exports folder).",
)
@click.option(
    "--locale",
    type=click.Choice(["en", "zh_CN"]),
    default=None,
    help="Language of the printable page (default: the employee's).",
)
@click.pass_context
def export(ctx: click.Context, employee_code: str, out: Path | None, locale: str | None) -> None:
    """Write EMPLOYEE_CODE's access package: data.json, csv/*.csv and a printable index.html.

    The file is created readable by its owner only; the export is in the operation log.
    """
    from server.audit.services import Actor
    from server.cli import _session, _settings
    from server.rights.access import build_access_package

    settings = _settings(ctx)
    with _session(settings) as db:
        employee_id = _employee_id(db, employee_code)
        package = build_access_package(db, employee_id, actor=Actor.system("cli"), locale=locale)
        data = package.to_zip()
        target = out or settings.data_dir / "exports" / (
            f"access-{employee_code}-{package.generated_at:%Y%m%dT%H%M%SZ}.zip"
        )
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        db.commit()  # the audit entry of the export
    rows = sum(len(r) for r in package.data.values())
    click.echo(
        f"Wrote {target} ({len(data) // 1024} KiB, {rows} records in {len(package.data)} tables)"
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
    from server.rights.restriction import restrict_employee

    with _session(_settings(ctx)) as db:
        employee_id = _employee_id(db, employee_code)
        try:
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
@click.pass_context
def lift(ctx: click.Context, employee_code: str, method: str, evidence: str | None) -> None:
    """Lift a restriction after telling the employee; they return to their terminals."""
    from server.audit.services import Actor
    from server.cli import _session, _settings, fail
    from server.db import utcnow
    from server.errors import AppError
    from server.rights.restriction import lift_restriction

    with _session(_settings(ctx)) as db:
        employee_id = _employee_id(db, employee_code)
        try:
            puts = lift_restriction(
                db,
                employee_id,
                notified_at=utcnow(),
                method=method,
                evidence_ref=evidence,
                actor=Actor.system("cli"),
            )
        except AppError as exc:
            fail(exc.message)
        db.commit()
        click.echo(f"{employee_code}: restriction lifted; queued for {puts} terminal(s).")


def _employee_id(db: Session, code: str) -> int:
    from server.cli import fail
    from server.employees.models import Employee

    employee_id = db.scalar(select(Employee.id).where(Employee.employee_code == code))
    if employee_id is None:
        fail(f"no employee with code {code!r}")
    return int(employee_id)
