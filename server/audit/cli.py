# SPDX-License-Identifier: GPL-2.0-or-later
"""``rollcall audit verify``: check the operation log's hash chain and its anchors (#6)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def audit() -> None:
    """The tamper-evident operation log."""


@audit.command("verify")
@click.option(
    "--anchor-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where anchors of the log head are kept (default: <data folder>/audit-anchors.jsonl, "
    "where the worker adds them too). Best on another machine or write-once storage.",
)
@click.option(
    "--no-anchor",
    is_flag=True,
    help="Check, but do not record a new anchor. Missing or lost anchors still fail.",
)
@click.pass_context
def verify(ctx: click.Context, anchor_file: Path | None, no_anchor: bool) -> None:
    """Walk the whole chain; name the first entry altered, removed or cut off.

    Every anchor recorded before (by this command, the page or the worker) must still be a
    point of the chain, and the log must reach as far as the newest anchor and the last
    kept verification saw it reach, so a log cut back together with its head row is caught
    too. An anchor file that is gone or has lost anchors since the last verification fails
    as well. After a clean check the current head is appended to the anchor file. The result
    is kept in the data folder, so the operation-log page shows it (a failure until a later
    check passes). Exits 1 when anything is wrong.
    """
    from server.audit.services import (
        ANCHOR_FILE,
        VERIFICATION_FILE,
        Actor,
        Anchor,
        ChainReport,
        append_anchor,
        save_verification,
        verify_log,
    )
    from server.cli import _session, _settings, fail

    settings = _settings(ctx)
    path = anchor_file or settings.data_dir / ANCHOR_FILE
    status = settings.data_dir / VERIFICATION_FILE
    actor = Actor.system("cli")

    def keep(report: ChainReport, anchor: Anchor | None = None) -> None:
        try:
            save_verification(status, report, actor=actor, anchor=anchor, anchor_path=path)
        except OSError as exc:
            click.echo(f"warning: the result could not be kept in {status}: {exc}", err=True)

    with _session(settings) as db:
        checked = verify_log(db, anchor_path=path, verification_path=status)
        report = checked.report
        if not report.ok:
            keep(report)
            if report.first_broken_seq is None:
                fail(f"the operation log cannot be shown intact: {report.reason}")
            fail(
                f"the operation log is NOT intact: {report.reason} "
                f"(first bad entry: {report.first_broken_seq}; {report.entries} entries "
                "verified before it)"
            )
        click.echo(
            f"The operation log is intact: {report.entries} entries, "
            f"{len(checked.anchors)} earlier anchor(s) matched."
        )
        anchor = None
        if not no_anchor:
            try:
                anchor = append_anchor(db, path)
            except OSError as exc:
                keep(report)
                fail(f"verified, but the anchor could not be written to {path}: {exc}")
            click.echo(f"Anchor recorded at entry {anchor.seq} in {path}.")
        keep(report, anchor)
