# SPDX-License-Identifier: GPL-2.0-or-later
"""``rollcall keys``: look after the instance key-encryption key (issue #5, C18)."""

from __future__ import annotations

import click


@click.group()
def keys() -> None:
    """The key-encryption key that protects templates and terminal comm keys."""


@keys.command("rotate")
@click.option("--batch", type=click.IntRange(min=1), default=500, show_default=True)
@click.option(
    "--finish",
    is_flag=True,
    help="After a completed rotation: delete the previous key (<key file>.old).",
)
@click.pass_context
def rotate(ctx: click.Context, batch: int, finish: bool) -> None:
    """Re-wrap every data key and comm key under a new key, then swap the key file.

    Safe to interrupt and re-run: it continues where it stopped. When everything is
    re-wrapped the new key replaces the key file and the old one is kept as <key file>.old;
    restart rollcall-web and rollcall-worker, check they work, then run with --finish.
    """
    from biometrics.errors import VaultError
    from biometrics.rotation import RotationProgress
    from server.audit.services import Actor
    from server.cli import _session, _settings, fail
    from server.enrolment.rotation import finish_rotation, rotate_instance_key

    settings = _settings(ctx)
    if settings.kek:
        fail(
            "the key comes from ROLLCALL_KEK, not from a key file; rotation replaces the key "
            "file, so move the key into it (unset ROLLCALL_KEK) first"
        )
    actor = Actor.system("cli")

    def progress(p: RotationProgress) -> None:
        click.echo(f"  batch {p.batches}: {p.rewrapped} re-wrapped", err=True)

    with _session(settings) as db:
        try:
            if finish:
                old_id = finish_rotation(db, settings.key_file, actor=actor)
                click.echo(f"Deleted the previous key {old_id}.")
                return
            result = rotate_instance_key(
                db, settings.key_file, actor=actor, batch=batch, on_batch=progress
            )
        except VaultError as exc:
            fail(str(exc))
    click.echo(
        f"Key {result.old_kek_id} -> {result.new_kek_id}: {result.rewrapped} data keys "
        f"re-wrapped, {result.resealed} comm keys and terminal passwords re-sealed, "
        f"{result.remaining} left."
    )
    if result.failed_employees:
        ids = ", ".join(str(i) for i in result.failed_employees)
        click.echo(f"Data keys that did not open (employee ids): {ids}", err=True)
    if result.failed_terminals:
        click.echo(f"Comm keys that did not open: {', '.join(result.failed_terminals)}", err=True)
    if not result.swapped:
        fail("rotation is not complete; fix the above if any and run it again")
    click.echo(
        f"The new key is in {settings.key_file}; the previous one is kept as "
        f"{settings.key_file}.old. Restart rollcall-web and rollcall-worker, check that "
        "they work, then run `rollcall keys rotate --finish`."
    )
