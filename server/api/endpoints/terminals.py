# SPDX-License-Identifier: GPL-2.0-or-later
"""Terminals: list, detail, add, test the connection, sync now, and the command outbox
(issues #3, #5, #6)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.api.blueprint import api
from server.api.pagination import Keyset, paginate
from server.api.registry import Param, ref
from server.api.schemas import iso
from server.auth.models import Role
from server.db import utcnow
from server.devices import distribution, operations, services
from server.devices.models import CommandState, SyncRun, Terminal, TerminalCommand
from server.employees.models import Employee
from server.errors import AppError, ValidationError
from server.i18n import select_timezone
from server.organization.models import Area
from server.web import current_actor, department_scope, get_session, instance_key
from terminals.base import TerminalError

READERS = (Role.HR_MANAGER, Role.HR_VIEWER, Role.AUDITOR, Role.PRIVACY_OFFICER)
OPERATORS = (Role.HR_MANAGER,)
CONFIGURERS = (Role.ADMIN,)  # as the add-a-terminal page


def terminal_json(t: Terminal, outbox: distribution.OutboxSummary | None) -> dict[str, Any]:
    return {
        "id": t.id,
        "serial_number": t.serial_number,
        "name": t.name,
        "host": t.host,
        "port": t.port,
        "transport": t.transport,
        "timezone": t.timezone,
        "encoding": t.encoding,
        "model": t.model,
        "platform": t.platform,
        "firmware": t.firmware,
        "area_id": t.area_id,
        "enabled": t.enabled,
        "online": services.is_online(t, utcnow()),
        "comm_key_set": t.comm_key_sealed is not None,
        "sync_interval_s": t.sync_interval_s,
        "clear_after_sync": t.clear_after_sync,
        "last_seen_at": iso(t.last_seen_at),
        "last_success_at": iso(t.last_success_at),
        "last_error": t.last_error,
        "consecutive_failures": t.consecutive_failures,
        "clock_offset_s": t.clock_offset_s,
        "record_count": t.last_record_count,
        "user_count": t.last_user_count,
        "template_count": t.last_template_count,
        "outbox": {
            "pending": outbox.pending if outbox else 0,
            "retrying": outbox.retrying if outbox else 0,
            "failed": outbox.failed if outbox else 0,
            "oldest_pending_at": iso(outbox.oldest_pending_at) if outbox else None,
        },
    }


def sync_run_json(run: SyncRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "terminal_id": run.terminal_id,
        "trigger": run.trigger,
        "status": run.status,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration_ms": run.duration_ms,
        "device_record_count": run.device_record_count,
        "records_read": run.records_read,
        "punches_new": run.punches_new,
        "punches_duplicate": run.punches_duplicate,
        "punches_quarantined": run.punches_quarantined,
        "users_read": run.users_read,
        "templates_read": run.templates_read,
        "clock_offset_s": run.clock_offset_s,
        "cleared": run.cleared,
        "error": run.error,
    }


def command_json(c: TerminalCommand) -> dict[str, Any]:
    outcome = None
    if c.outcome is not None:
        # Counts and flags only, whatever a future command kind might add.
        outcome = {
            k: v for k, v in c.outcome.items() if isinstance(v, (int, float, bool, str | None))
        }
    return {
        "id": c.id,
        "terminal_id": c.terminal_id,
        "kind": c.kind,
        "employee_id": c.employee_id,
        "pin": c.pin,
        "finger": c.finger,
        "cause": c.cause,
        "reference": c.reference,
        "state": c.state,
        "attempts": c.attempts,
        "next_attempt_at": iso(c.next_attempt_at),
        "last_error": c.last_error,
        "outcome": outcome,
        "created_at": iso(c.created_at),
        "completed_at": iso(c.completed_at),
    }


@api.route(
    "/terminals",
    summary="List terminals with their health",
    tag="terminals",
    roles=READERS,
    response=ref("Terminal"),
    paginated=True,
)
def list_terminals(query: dict[str, Any]) -> Any:
    """Ordered by name. Comm keys are never shown, only whether one is set."""
    db = get_session()
    page = paginate(
        db,
        select(Terminal),
        Keyset(Terminal.name, Terminal.id),
        limit=query["limit"],
        cursor=query.get("cursor"),
    )
    outbox = distribution.outbox_summary(db)
    return page.json(lambda t: terminal_json(t, outbox.get(t.id)))


@api.route(
    "/terminals/<int:terminal_id>",
    summary="One terminal",
    tag="terminals",
    roles=READERS,
    response=ref("Terminal"),
)
def get_terminal(terminal_id: int) -> Any:
    db = get_session()
    terminal = services.get_terminal(db, terminal_id)
    return terminal_json(terminal, distribution.outbox_summary(db).get(terminal.id))


@api.route(
    "/terminals/<int:terminal_id>/sync",
    "POST",
    summary="Sync a terminal now",
    tag="terminals",
    roles=OPERATORS,
    body={
        "type": "object",
        "properties": {
            "force": {
                "type": "boolean",
                "description": "Read everything even if nothing seems to have changed.",
            }
        },
        "additionalProperties": False,
    },
    body_required=False,
    response=ref("SyncRun"),
    errors=(409, 502),
)
def sync_terminal(terminal_id: int, body: dict[str, Any]) -> Any:
    """Connects to the terminal and reads its new punches before answering (seconds to
    minutes for a large log). 409 while a worker or someone else syncs it; 502 when the
    terminal does not answer or breaks off (the failed run is recorded, its id in details)."""
    db = get_session()
    terminal = services.get_terminal(db, terminal_id)
    owner = f"api:{os.getpid()}:{threading.get_ident()}"
    try:
        run = services.sync_now(
            db,
            terminal,
            kek=instance_key(),  # None: no comm keys, no templates; punches still
            actor=current_actor(),
            owner=owner,
            force=bool(body.get("force", False)),
        )
    except TerminalError as exc:
        failed = db.scalar(
            select(SyncRun.id)
            .where(SyncRun.terminal_id == terminal.id, SyncRun.worker == owner)
            .order_by(SyncRun.id.desc())
            .limit(1)
        )
        raise AppError(
            _("The terminal did not complete the sync: %(error)s", error=str(exc)),
            status=502,
            code="terminal_error",
            details={"sync_run_id": failed},
        ) from None
    return sync_run_json(run)


@api.route(
    "/terminals/<int:terminal_id>/outbox",
    summary="The terminal's command outbox",
    tag="terminals",
    roles=READERS,
    query=(
        Param(
            "state",
            {"type": "string", "enum": ["open", *[s.value for s in CommandState]]},
            "open (default): pending and failed; or one state.",
        ),
    ),
    response=ref("OutboxCommand"),
    paginated=True,
)
def terminal_outbox(terminal_id: int, query: dict[str, Any]) -> Any:
    """Commands in the order the worker runs them."""
    db = get_session()
    terminal = services.get_terminal(db, terminal_id)
    state = query.get("state", "open")
    states = [CommandState.PENDING.value, CommandState.FAILED.value] if state == "open" else [state]
    listing = select(TerminalCommand).where(
        TerminalCommand.terminal_id == terminal.id, TerminalCommand.state.in_(states)
    )
    page = paginate(
        db,
        listing,
        Keyset(TerminalCommand.id, TerminalCommand.id),
        limit=query["limit"],
        cursor=query.get("cursor"),
    )
    return page.json(_scoped(db, page.items))


def _scoped(
    db: Session, commands: Sequence[TerminalCommand]
) -> Callable[[TerminalCommand], dict[str, Any]]:
    """``command_json`` that names only the employees within the caller's department
    scope, as the outbox page does: a command about someone else keeps its kind and
    state, without whom (employee id, PIN) it is about."""
    scope = department_scope()
    if scope is None:
        return command_json
    ids = {c.employee_id for c in commands if c.employee_id is not None}
    visible = set(
        db.scalars(
            select(Employee.id).where(Employee.id.in_(ids), Employee.department_id.in_(scope))
        )
    )

    def serialize(c: TerminalCommand) -> dict[str, Any]:
        data = command_json(c)
        if c.employee_id not in visible:
            data["employee_id"] = data["pin"] = None
        return data

    return serialize


def _terminal_error(exc: TerminalError) -> AppError:
    return AppError(
        _("The terminal did not answer as expected: %(error)s", error=str(exc)),
        status=502,
        code="terminal_error",
        details={"field": "address"},
    )


@api.route(
    "/terminals",
    "POST",
    summary="Add a terminal by its address",
    tag="terminals",
    roles=CONFIGURERS,
    body={
        "type": "object",
        "required": ["address"],
        "properties": {
            "address": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "description": "Host name or IP address.",
            },
            "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 4370},
            "transport": {"type": "string", "enum": ["tcp", "udp"], "default": "tcp"},
            "comm_key": {
                "type": "integer",
                "minimum": 0,
                "maximum": services.MAX_COMM_KEY,
                "writeOnly": True,
                "description": "The terminal's communication key (0: none). Stored sealed, "
                "never shown again.",
            },
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "timezone": {
                "type": "string",
                "maxLength": 64,
                "description": "The IANA zone of its clock; the organization's by default.",
            },
            "encoding": {"type": "string", "enum": list(services.ENCODINGS)},
            "area_id": {"type": "integer", "minimum": 1},
        },
        "additionalProperties": False,
    },
    response=ref("TerminalRegistration"),
    status=201,
    errors=(409, 502),
)
def add_terminal(body: dict[str, Any]) -> Any:
    """Connects to the terminal and reads its serial number, which is its identity: a
    known serial at a new address is followed there (``created`` false); another serial at
    a registered terminal's address is refused (409). 502 when nothing answers as a
    terminal. With ``area_id`` the terminal is placed in the area and reconciled."""
    db = get_session()
    area_id = body.get("area_id")
    if area_id is not None and db.get(Area, area_id) is None:
        raise ValidationError(_("No such area."), details={"field": "area_id"})
    comm_key = int(body.get("comm_key", 0))
    kek = instance_key()
    if comm_key and kek is None:
        raise ValidationError(
            _("The instance key cannot be loaded, so a comm key cannot be stored safely."),
            details={"field": "comm_key"},
        )
    host = body["address"].strip()
    port = int(body.get("port", 4370))
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    actor = current_actor()
    try:
        registration = services.register_terminal(
            db,
            address=address,
            actor=actor,
            kek=kek,  # type: ignore[arg-type]  # only used to seal a comm key, checked above
            comm_key=comm_key,
            transport=body.get("transport", "tcp"),
            timezone=body.get("timezone") or select_timezone(),
            name=body.get("name"),
            encoding=body.get("encoding", "utf-8"),
        )
        if area_id is not None and registration.terminal.area_id != area_id:
            # Placing it (not only storing the area) queues its first reconciliation.
            distribution.set_terminal_area(db, registration.terminal.id, area_id, actor=actor)
    except TerminalError as exc:
        db.rollback()
        raise _terminal_error(exc) from None
    db.commit()
    terminal = registration.terminal
    return {
        "created": registration.created,
        "moved_from": registration.moved_from,
        "terminal": terminal_json(terminal, distribution.outbox_summary(db).get(terminal.id)),
    }, 201


@api.route(
    "/terminals/<int:terminal_id>/test",
    "POST",
    summary="Test the connection to a terminal",
    tag="terminals",
    roles=OPERATORS,
    response=ref("ConnectionTest"),
)
def check_terminal(terminal_id: int) -> Any:
    """Connects, reads who answers, its counts and its clock; nothing on the terminal
    changes. A failure is an answer too (``ok`` false, with the error), not an HTTP error.
    The test is in the operation log either way."""
    db = get_session()
    services.get_terminal(db, terminal_id)
    report = operations.check_connection(db, terminal_id, kek=instance_key(), actor=current_actor())
    db.commit()
    return {
        "ok": report.ok,
        "serial_number": report.serial,
        "firmware": report.firmware,
        "records": report.records,
        "users": report.users,
        "clock_offset_s": report.clock_offset_s,
        "elapsed_ms": report.elapsed_ms,
        "error": report.error,
    }
