# SPDX-License-Identifier: GPL-2.0-or-later
"""``rollcall tokens``: API tokens for scripts and integrations (issue #6)."""

from __future__ import annotations

from datetime import datetime

import click
from sqlalchemy import select


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@click.group()
def tokens() -> None:
    """API tokens: create, list and revoke."""


@tokens.command("create")
@click.option("--account", "username", required=True, help="The account the token acts as.")
@click.option("--name", required=True, help="What uses the token (e.g. 'payroll export').")
@click.option(
    "--read-only", is_flag=True, help="The token can read only, whatever the account's role."
)
@click.option(
    "--days",
    type=click.IntRange(1, 3650),
    default=None,
    help="Expire after D days (default: never).",
)
@click.pass_context
def create(ctx: click.Context, username: str, name: str, read_only: bool, days: int | None) -> None:
    """Issue a token acting as ACCOUNT; it is printed once and only its hash is kept."""
    from server.api.tokens import create_token
    from server.audit.services import Actor
    from server.auth.models import Account
    from server.cli import _session, _settings, fail
    from server.errors import AppError

    with _session(_settings(ctx)) as db:
        account_id = db.scalar(
            select(Account.id).where(Account.username == username.strip().lower())
        )
        if account_id is None:
            fail(f"no account {username!r}")
        try:
            issued = create_token(
                db,
                account_id=account_id,
                name=name,
                read_only=read_only,
                days=days,
                actor=Actor.system("cli"),
            )
        except AppError as exc:
            fail(exc.message)
        db.commit()
        kind = "read-only" if read_only else "read-write"
        until = (
            f"until {_when(issued.row.expires_at)} UTC"
            if issued.row.expires_at
            else "until revoked"
        )
        click.echo(f"Token {issued.row.id} ({kind}, {until}) for {username}.")
        click.echo("The token (shown once, store it now):")
        click.echo(issued.secret)


@tokens.command("list")
@click.option("--account", "username", default=None, help="Only this account's tokens.")
@click.pass_context
def list_(ctx: click.Context, username: str | None) -> None:
    """List tokens (never the tokens themselves: their first characters)."""
    from server.api.tokens import list_tokens
    from server.auth.models import Account
    from server.cli import _session, _settings, fail
    from server.db import utcnow

    with _session(_settings(ctx)) as db:
        account_id = None
        if username:
            account_id = db.scalar(
                select(Account.id).where(Account.username == username.strip().lower())
            )
            if account_id is None:
                fail(f"no account {username!r}")
        rows = list_tokens(db, account_id=account_id)
        if not rows:
            click.echo("No API tokens.")
            return
        names = dict(db.execute(select(Account.id, Account.username)).all())
        now = utcnow()
        click.echo(
            f"{'ID':>5}  {'PREFIX':<13} {'ACCOUNT':<16} {'KIND':<4} {'STATE':<8} "
            f"{'CREATED':<16} {'LAST USED':<16} {'EXPIRES':<16} NAME"
        )
        for t in rows:
            state = "revoked" if t.revoked_at else ("active" if t.usable(now) else "expired")
            click.echo(
                f"{t.id:>5}  {t.prefix:<13} {names.get(t.account_id, '?')[:16]:<16} "
                f"{'ro' if t.read_only else 'rw':<4} {state:<8} {_when(t.created_at):<16} "
                f"{_when(t.last_used_at):<16} {_when(t.expires_at):<16} {t.name}"
            )


@tokens.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
def revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke token TOKEN_ID at once."""
    from server.api.tokens import revoke_token
    from server.audit.services import Actor
    from server.cli import _session, _settings, fail
    from server.errors import AppError

    with _session(_settings(ctx)) as db:
        try:
            revoke_token(db, token_id, actor=Actor.system("cli"))
        except AppError as exc:
            fail(exc.message)
        db.commit()
    click.echo(f"Token {token_id} revoked.")
