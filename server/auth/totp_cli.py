# SPDX-License-Identifier: GPL-2.0-or-later
"""``rollcall second-factor reset USER``: for an administrator who lost their own phone."""

from __future__ import annotations

import click
from sqlalchemy import select


@click.group("second-factor")
def second_factor() -> None:
    """Accounts' TOTP second factor."""


@second_factor.command("reset")
@click.argument("username")
@click.pass_context
def reset(ctx: click.Context, username: str) -> None:
    """Remove USERNAME's second factor and recovery codes; they sign in with the password
    alone until they set one up again. Audited."""
    from server.audit.services import Actor
    from server.auth import totp
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
            totp.reset(db, account_id, actor=Actor.system("cli"))
        except AppError as exc:
            fail(exc.message)
        db.commit()
    click.echo(f"Second factor of {username} removed.")
