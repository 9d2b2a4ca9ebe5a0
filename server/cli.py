# SPDX-License-Identifier: GPL-2.0-or-later
"""The ``rollcall`` command: set up, run and look after an installation."""

from __future__ import annotations

import logging
import os
import secrets
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from server import migrate
from server.db import make_engine, make_sessionmaker
from server.settings import (
    CONFIG_NAME,
    ConfigError,
    Settings,
    load_settings,
    render_config,
    system_timezone,
)

logger = logging.getLogger("rollcall")


def fail(message: str) -> NoReturn:
    click.echo(f"rollcall: error: {message}", err=True)
    sys.exit(1)


def _settings(ctx: click.Context) -> Settings:
    try:
        return load_settings(ctx.obj["home"])
    except ConfigError as exc:
        fail(str(exc))


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as db:
            yield db
    finally:
        engine.dispose()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="ROLLCALL_HOME",
    help="Instance folder (default: $ROLLCALL_HOME, else ./instance).",
)
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR.")
@click.pass_context
def main(ctx: click.Context, home: Path | None, log_level: str | None) -> None:
    """Rollcall: on-premise attendance server for ZKTeco-style terminals."""
    ctx.ensure_object(dict)
    ctx.obj["home"] = (home or Path.cwd() / "instance").resolve()
    logging.basicConfig(
        level=(log_level or os.environ.get("ROLLCALL_LOG_LEVEL") or "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Alembic's INFO lines (and its "non-transactional DDL" guess, wrong here: server/db.py
    # makes SQLite DDL transactional) are noise in every command; the revision is reported.
    logging.getLogger("alembic").setLevel(logging.WARNING)


@main.command()
@click.option("--database-url", help="SQLAlchemy URL (default: SQLite file in the instance).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--timezone", "tz", default=None, help="IANA zone (default: the system's).")
@click.option("--organization", default="My organization", show_default=True)
@click.option(
    "--admin",
    "admin_username",
    default="admin",
    show_default=True,
    help="Username of the first administrator.",
)
@click.pass_context
def init(
    ctx: click.Context,
    database_url: str | None,
    host: str,
    port: int,
    tz: str | None,
    organization: str,
    admin_username: str,
) -> None:
    """Create an instance: configuration, secrets, key file, database, first administrator.

    The administrator's password is generated and printed once.
    """
    from biometrics.keys import KeyFileError, generate_key_file
    from server.audit.services import Actor, record_event
    from server.auth.models import Account, Role
    from server.auth.passwords import generate_password
    from server.auth.services import create_account
    from server.errors import AppError
    from server.organization.models import OrganizationSettings

    home: Path = ctx.obj["home"]
    config_path = home / CONFIG_NAME
    if config_path.exists():
        fail(f"{config_path} exists: this instance is already set up")
    values: dict[str, Any] = {
        "listen_host": host,
        "listen_port": port,
        "timezone": tz or system_timezone(),
        "secret_key": secrets.token_urlsafe(48),
    }
    if database_url:
        values["database_url"] = database_url
    try:
        settings = Settings(
            home=home,
            database_url=database_url or f"sqlite:///{home / 'rollcall.db'}",
            key_file=home / "keys" / "kek.key",
            data_dir=home / "data",
            secret_key=values["secret_key"],
            listen_host=host,
            listen_port=port,
            timezone=values["timezone"],
        )
    except ConfigError as exc:
        fail(str(exc))

    # Private folders: the instance holds the database and the key file.
    for folder in (home, settings.data_dir, settings.key_file.parent):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_created = False
    try:
        if not settings.key_file.exists():
            generate_key_file(settings.key_file)
            key_created = True
        migrate.upgrade(settings.database_url)
        password = generate_password()
        with _session(settings) as db:
            if db.scalar(select(func.count()).select_from(Account)):
                fail("the database already has accounts; point this instance at a new one")
            actor = Actor.system("cli")
            db.add(
                OrganizationSettings(id=1, name=organization, default_timezone=settings.timezone)
            )
            account = create_account(
                db,
                username=admin_username,
                password=password,
                role=Role.ADMIN,
                actor=actor,
                display_name="Administrator",
            )
            record_event(
                db, "instance.initialized", actor=actor, details={"admin_account": account.id}
            )
            db.commit()
    except (KeyFileError, SQLAlchemyError, AppError, OSError) as exc:
        if key_created:
            settings.key_file.unlink(missing_ok=True)
        fail(f"setup failed, nothing was configured: {exc}")

    # The config goes last, atomically, 0600 (it holds the session secret): an init that
    # failed above leaves no half-made instance behind.
    tmp = config_path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(render_config(values))
    tmp.replace(config_path)
    click.echo(f"Instance created in {home}")
    click.echo(f"  database:  {_redact(settings.database_url)}")
    click.echo(f"  key file:  {settings.key_file} (back it up apart from the database)")
    click.echo(f"  web UI:    http://{host}:{port}/")
    click.echo(f"Administrator: {admin_username}")
    click.echo(f"Password (shown once, store it now): {password}")


def _unapplied_erasures(settings: Settings) -> str | None:
    """Why Rollcall must not start: the tombstone file lists erasures this database does not
    hold (an older backup was restored), or None."""
    from server.errors import AppError
    from server.rights.erasure import check_tombstones, unapplied_erasures_message

    try:
        with _session(settings) as db:
            return unapplied_erasures_message(check_tombstones(db, data_dir=settings.data_dir))
    except AppError as exc:  # a damaged tombstone file is no reason to carry on either
        return exc.message


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.command()
@click.option("--host", default=None, help="Listen address (default: from configuration).")
@click.option("--port", default=None, type=click.IntRange(1, 65535))
@click.option("--threads", default=None, type=click.IntRange(1, 256))
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, threads: int | None) -> None:
    """Serve the web UI, the API and the terminals' push endpoints with waitress."""
    import waitress

    from server.app import create_app

    settings = _settings(ctx)
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            revision = migrate.current_revision(conn)
    except SQLAlchemyError as exc:
        fail(f"cannot reach the database {_redact(settings.database_url)}: {exc}")
    if revision != migrate.head_revision():
        fail("the database schema is not current: run `rollcall db upgrade` first")
    if (unapplied := _unapplied_erasures(settings)) is not None:
        fail(unapplied)
    app = create_app(settings, engine=engine)
    host = host or settings.listen_host
    port = port or settings.listen_port
    click.echo(f"Rollcall listening on http://{host}:{port}/", err=True)
    waitress.serve(app, host=host, port=port, threads=threads or settings.threads, ident="Rollcall")


@main.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Bring the database schema up to date (back up first on a live system)."""
    settings = _settings(ctx)
    try:
        migrate.upgrade(settings.database_url, revision)
        engine = make_engine(settings.database_url)
        with engine.connect() as conn:
            now = migrate.current_revision(conn)
        engine.dispose()
    except SQLAlchemyError as exc:
        fail(f"upgrade failed, the schema is unchanged: {exc}")
    click.echo(f"Database at revision {now}")


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the schema change is for.")
def db_revision(message: str) -> None:
    """For developers: write a new migration from the difference between models and schema.

    Autogenerates against a scratch SQLite database upgraded to head; review the file, then
    commit it with the model change.
    """
    import tempfile

    from alembic import command

    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/scratch.db"
        migrate.upgrade(url)
        script = command.revision(migrate.alembic_config(url), message=message, autogenerate=True)
    path = getattr(script, "path", None)
    click.echo(f"Wrote {path}: review it, run the migration tests, commit it with the models")


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check the configuration, the database and the key file; exit 1 on any problem."""
    from biometrics.errors import VaultError
    from biometrics.keys import check_key_file, kek_from_base64

    problems: list[str] = []
    settings = _settings(ctx)
    click.echo(f"configuration: {settings.config_path} read")
    config_mode = (
        stat.S_IMODE(settings.config_path.stat().st_mode) if (settings.config_path.exists()) else 0
    )
    if config_mode & 0o077:
        problems.append(f"{settings.config_path} is readable by others: chmod 600 it")
    try:
        engine = make_engine(settings.database_url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            revision = migrate.current_revision(conn)
        engine.dispose()
        click.echo(f"database: reachable, revision {revision}")
        if revision != migrate.head_revision():
            problems.append("the database schema is not current: run `rollcall db upgrade`")
        elif (unapplied := _unapplied_erasures(settings)) is not None:
            problems.append(unapplied)
        else:
            click.echo("erasure tombstones: every erasure they list is applied")
    except SQLAlchemyError as exc:
        problems.append(f"database {_redact(settings.database_url)} unreachable: {exc}")
    if settings.kek:
        try:
            kek_from_base64(settings.kek)
            click.echo("key-encryption key: from ROLLCALL_KEK")
        except VaultError as exc:
            problems.append(str(exc))
    else:
        key_problems = check_key_file(settings.key_file)
        problems.extend(key_problems)
        if not key_problems:
            click.echo(f"key file: {settings.key_file} (mode 0600)")
    if not os.access(settings.data_dir, os.W_OK):
        problems.append(f"data folder {settings.data_dir} is missing or not writable")
    for problem in problems:
        click.echo(f"PROBLEM: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo("OK")


# --------------------------------------------------------------------------- terminals
def _kek_or_fail(settings: Settings) -> Any:
    from biometrics.errors import VaultError
    from server.sealing import instance_kek

    try:
        return instance_kek(settings)
    except VaultError as exc:
        fail(str(exc))


@main.group()
def terminals() -> None:
    """Register and inspect terminals."""


@terminals.command("add")
@click.argument("address")
@click.option(
    "--comm-key",
    default=0,
    type=click.IntRange(0, 999_999),
    help="The terminal's communication key (0: none).",
)
@click.option("--udp", is_flag=True, help="Speak UDP instead of TCP (some models only do UDP).")
@click.option(
    "--timezone",
    "tz",
    default=None,
    help="IANA zone of the terminal's clock (default: the organization's).",
)
@click.option("--name", default=None, help="A name people recognize (default: the model).")
@click.option(
    "--encoding",
    type=click.Choice(["utf-8", "gbk"]),
    default="utf-8",
    show_default=True,
    help="Name encoding of the firmware (gbk: Chinese firmware).",
)
@click.option(
    "--clear-after-sync",
    is_flag=True,
    help="Keep the terminal's log small: clear it once every record is stored.",
)
@click.option(
    "--interval",
    default=300,
    show_default=True,
    type=click.IntRange(10, 86_400),
    help="Seconds between syncs.",
)
@click.pass_context
def terminals_add(
    ctx: click.Context,
    address: str,
    comm_key: int,
    udp: bool,
    tz: str | None,
    name: str | None,
    encoding: str,
    clear_after_sync: bool,
    interval: int,
) -> None:
    """Add the terminal at ADDRESS (HOST or HOST:PORT, port 4370 by default).

    Rollcall connects, reads its serial number, model and capacities, and records it. A known
    serial at a new address is followed; a different serial at a known terminal's address is
    refused, so two terminals' data never mix.
    """
    from server.audit.services import Actor
    from server.devices.services import register_terminal
    from server.errors import AppError
    from server.organization.models import OrganizationSettings
    from terminals.base import TerminalError

    settings = _settings(ctx)
    kek = _kek_or_fail(settings)
    with _session(settings) as db:
        org = db.get(OrganizationSettings, 1)
        zone = tz or (org.default_timezone if org else settings.timezone)
        try:
            reg = register_terminal(
                db,
                address=address,
                actor=Actor.system("cli"),
                kek=kek,
                comm_key=comm_key,
                transport="udp" if udp else "tcp",
                timezone=zone,
                name=name,
                encoding=encoding,
                clear_after_sync=clear_after_sync,
                sync_interval_s=interval,
            )
            db.commit()
        except (AppError, TerminalError) as exc:
            fail(str(getattr(exc, "message", exc)))
        t = reg.terminal
        if reg.created:
            click.echo(
                f"Added terminal {t.serial_number} ({t.name}, {t.model or 'unknown model'},"
                f" firmware {t.firmware or '?'}) at {t.host}:{t.port}/{t.transport}"
            )
        else:
            click.echo(
                f"Terminal {t.serial_number} moved from {reg.moved_from} to "
                f"{t.host}:{t.port}; following it"
            )


@terminals.command("list")
@click.pass_context
def terminals_list(ctx: click.Context) -> None:
    """List terminals with their health."""
    from server.db import utcnow
    from server.devices.services import is_online, list_terminals

    settings = _settings(ctx)
    now = utcnow()
    with _session(settings) as db:
        rows = list_terminals(db)
        if not rows:
            click.echo("No terminals yet: add one with `rollcall terminals add HOST[:PORT]`.")
            return
        header = (
            f"{'SERIAL':<16} {'NAME':<20} {'ADDRESS':<22} {'STATE':<8} {'LAST SUCCESS':<20}"
            f" {'FAILS':>5} {'CLOCK':>7}  LAST ERROR"
        )
        click.echo(header)
        for t in rows:
            state = "off" if not t.enabled else ("online" if is_online(t, now) else "offline")
            last = t.last_success_at.strftime("%Y-%m-%d %H:%M:%S") if t.last_success_at else "never"
            clock = f"{t.clock_offset_s:+.0f}s" if t.clock_offset_s is not None else "?"
            click.echo(
                f"{t.serial_number:<16} {t.name[:20]:<20} "
                f"{(t.host or '') + ':' + str(t.port or ''):<22} {state:<8} {last:<20} "
                f"{t.consecutive_failures:>5} {clock:>7}  {(t.last_error or '')[:60]}"
            )


@terminals.command("quarantine")
@click.option("--serial", default=None, help="Only this terminal's.")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100_000))
@click.pass_context
def terminals_quarantine(ctx: click.Context, serial: str | None, limit: int) -> None:
    """List punches kept aside for an impossible time (reset clock, future, bad date)."""
    from server.devices.services import quarantined_punches

    settings = _settings(ctx)
    with _session(settings) as db:
        rows = quarantined_punches(db, serial=serial, limit=limit)
        if not rows:
            click.echo("No quarantined punches.")
            return
        click.echo(f"{'TERMINAL':<16} {'PIN':<10} {'TERMINAL TIME':<20} REASON")
        for p in rows:
            click.echo(
                f"{p.terminal_serial:<16} {p.pin:<10} "
                f"{p.device_time:%Y-%m-%d %H:%M:%S}  {p.quarantine_reason}"
            )


@terminals.command("pins")
@click.option(
    "--assign",
    nargs=2,
    metavar="MAPPING_ID EMPLOYEE_CODE",
    default=None,
    help="Give a pending PIN to an employee; its punches are attached to them.",
)
@click.pass_context
def terminals_pins(ctx: click.Context, assign: tuple[str, str] | None) -> None:
    """List PINs seen on terminals that no employee holds yet, or assign one."""
    from server.audit.services import Actor
    from server.devices.services import assign_pin, pending_pins
    from server.employees.models import Employee
    from server.errors import AppError

    settings = _settings(ctx)
    with _session(settings) as db:
        if assign:
            mapping_id, code = assign
            employee_id = db.scalar(select(Employee.id).where(Employee.employee_code == code))
            if employee_id is None or not mapping_id.isdigit():
                fail(
                    f"no employee with code {code!r}"
                    if employee_id is None
                    else f"{mapping_id!r} is not a mapping id"
                )
            try:
                mapping, attached = assign_pin(
                    db, int(mapping_id), employee_id=employee_id, actor=Actor.system("cli")
                )
            except AppError as exc:
                fail(exc.message)
            db.commit()
            click.echo(f"PIN {mapping.pin} assigned to {code}; {attached} punches attached")
            return
        rows = pending_pins(db)
        if not rows:
            click.echo("No pending PINs.")
            return
        click.echo(f"{'ID':>6}  {'PIN':<12} {'TERMINAL':>8}  NAME ON TERMINAL")
        for m in rows:
            click.echo(f"{m.id:>6}  {m.pin:<12} {m.terminal_id or 'all':>8}  {m.device_name or ''}")


@main.command()
@click.argument("serial", required=False)
@click.option("--all", "sync_all", is_flag=True, help="Sync every enabled terminal.")
@click.option(
    "--force", is_flag=True, help="Read everything even if nothing seems to have changed."
)
@click.pass_context
def sync(ctx: click.Context, serial: str | None, sync_all: bool, force: bool) -> None:
    """Sync one terminal (by SERIAL) or --all now, with progress and a summary of counts."""
    from server.audit.services import Actor
    from server.devices.services import get_terminal, list_terminals, sync_now
    from server.errors import AppError
    from terminals.base import TerminalError

    if bool(serial) == sync_all:
        fail("name one terminal's SERIAL, or --all")
    settings = _settings(ctx)
    kek = _kek_or_fail(settings)
    failures = 0
    with _session(settings) as db:
        try:
            targets = (
                [t for t in list_terminals(db) if t.enabled]
                if sync_all
                else [get_terminal(db, serial or "")]
            )
        except AppError as exc:
            fail(exc.message)
        for terminal in targets:
            label = f"{terminal.serial_number} ({terminal.name})"

            def progress(phase: str, done: int, total: int, label: str = label) -> None:
                if sys.stderr.isatty():
                    pct = f"{100 * done // total:3d}%" if total else "   "
                    click.echo(f"\r{label}: {phase:<6} {pct} {done}/{total}   ", nl=False, err=True)

            try:
                run = sync_now(
                    db,
                    terminal,
                    kek=kek,
                    actor=Actor.system("cli"),
                    owner=f"cli:{os.getpid()}",
                    progress=progress,
                    force=force,
                )
            except (AppError, TerminalError) as exc:
                failures += 1
                if sys.stderr.isatty():
                    click.echo("", err=True)
                click.echo(f"{label}: FAILED: {getattr(exc, 'message', exc)}", err=True)
                continue
            if sys.stderr.isatty():
                click.echo("", err=True)
            if run.status == "unchanged":
                click.echo(
                    f"{label}: unchanged ({run.device_record_count} records on the "
                    f"terminal), {run.duration_ms} ms"
                )
            else:
                click.echo(
                    f"{label}: read {run.records_read}, new {run.punches_new}, duplicate "
                    f"{run.punches_duplicate}, quarantined {run.punches_quarantined}"
                    f"{', terminal log cleared' if run.cleared else ''}; {run.duration_ms} ms"
                )
    if failures:
        sys.exit(1)


@main.command()
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Terminals synced at once.",
)
@click.option("--once", is_flag=True, help="Sync every due terminal once, then exit.")
@click.option("--name", default=None, help="Worker name in leases (default: host:pid).")
@click.option(
    "--realtime",
    is_flag=True,
    help="Keep a live capture open per terminal: punches arrive the moment they are made "
    "(one thread per terminal; full syncs still run at each interval).",
)
@click.option(
    "--lease-seconds",
    default=300,
    show_default=True,
    type=click.IntRange(5, 3600),
    help="How long a dead worker's terminals stay claimed before others take over.",
)
@click.pass_context
def worker(
    ctx: click.Context,
    threads: int,
    once: bool,
    name: str | None,
    realtime: bool,
    lease_seconds: int,
) -> None:
    """Sync every terminal at its own interval until stopped (SIGTERM or Ctrl-C)."""
    import signal
    from datetime import timedelta

    from terminals.connect import client_for
    from terminals.worker import Worker

    settings = _settings(ctx)
    kek = _kek_or_fail(settings)
    if (unapplied := _unapplied_erasures(settings)) is not None:
        fail(unapplied)
    engine = make_engine(settings.database_url, pool_size=threads + 2)
    w = Worker(
        make_sessionmaker(engine),
        lambda terminal: client_for(terminal, kek),
        name=name,
        threads=threads,
        lease_ttl=timedelta(seconds=lease_seconds),
        realtime=realtime and not once,
        kek=kek,
        data_dir=settings.data_dir,
    )
    if once:
        w.run_once()
        w.shutdown()
        engine.dispose()
        return

    def stop(_signum: int, _frame: object) -> None:
        w.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"Rollcall worker {w.name}: {threads} threads", err=True)
    w.run()
    engine.dispose()


@main.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def simulate(args: tuple[str, ...]) -> None:
    """Serve simulated ZK terminals (binary protocol, TCP and UDP) for demos and tests.

    `rollcall simulate --help` lists the options (terminals, ports, models, workforce).
    """
    from terminals.simulator.cli import build_parser, run

    parser = build_parser()
    parser.prog = "rollcall simulate"
    sys.exit(run(parser.parse_args(list(args))))


def _register_subcommands() -> None:
    from server.api.cli import tokens
    from server.audit.cli import audit
    from server.auth.totp_cli import second_factor
    from server.devices.cli import (
        areas,
        employees,
        terminals_enrol,
        terminals_outbox,
        terminals_place,
    )
    from server.enrolment.cli import keys
    from server.rights.cli import rights

    main.add_command(audit)
    main.add_command(tokens)
    main.add_command(second_factor)
    main.add_command(rights)
    main.add_command(keys)
    main.add_command(areas)
    main.add_command(employees)
    terminals.add_command(terminals_place)
    terminals.add_command(terminals_outbox)
    terminals.add_command(terminals_enrol)


_register_subcommands()


if __name__ == "__main__":  # pragma: no cover
    main()
