# SPDX-License-Identifier: GPL-2.0-or-later
"""Terminals: registration by address (identity by serial), listing, and sync now.

Registration talks to the terminal (through ``connect``, the pyzk adapter by default), so it
can tell a moved terminal (known serial, new address: follow it) from a replaced one (new
serial at a known terminal's address: stop and say so, never mix their data).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from biometrics.keys import KeyEncryptionKey
from server.attendance.models import Punch
from server.audit.services import Actor, is_identifier, record_event
from server.db import rowcount, utcnow
from server.devices.models import PinMapping, SyncRun, Terminal
from server.employees.models import Employee
from server.errors import ConflictError, NotFoundError, ValidationError
from terminals import leases
from terminals.base import (
    DeviceInfo,
    DeviceSizes,
    Endpoint,
    TerminalAuthError,
    TerminalClient,
    TerminalError,
    TerminalIdentityError,
    TerminalProtocolError,
    TerminalUnreachableError,
    Transport,
    UnstorableUserError,
)
from terminals.connect import client_for, seal_comm_key
from terminals.sync import Progress, sync_terminal
from terminals.zk.client import ZkClient

Connect = Callable[[Endpoint], TerminalClient]
_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]]{1,255}$")
MAX_COMM_KEY = 999_999
ENCODINGS = ("utf-8", "gbk")
# The column holds 64; ZKTeco serials are a dozen or so letters and digits.
SERIAL_MAX = 64


@dataclass(frozen=True, slots=True)
class Registration:
    terminal: Terminal
    created: bool
    moved_from: str | None = None


def describe_terminal_error(err: TerminalError) -> str:
    """What went wrong with a terminal, in the reader's language: a sentence by kind of
    failure, then the driver's own detail (English, technical: it names the terminal and the
    step, never a person), which is what a technician or a bug report needs."""
    detail = str(err)[:300]
    if isinstance(err, TerminalAuthError):
        return str(_("The terminal refused the comm key: %(detail)s", detail=detail))
    if isinstance(err, TerminalIdentityError):
        return str(
            _(
                "Terminal %(found)s answered at this address, not %(expected)s.",
                found=err.found,
                expected=err.expected,
            )
        )
    if isinstance(err, TerminalUnreachableError):
        return str(
            _(
                "The terminal did not answer (wrong address, switched off or no network): "
                "%(detail)s",
                detail=detail,
            )
        )
    if isinstance(err, UnstorableUserError):
        return str(
            _("This terminal model cannot store the user as given: %(detail)s", detail=detail)
        )
    if isinstance(err, TerminalProtocolError):
        return str(
            _("The terminal answered something Rollcall cannot trust: %(detail)s", detail=detail)
        )
    return str(_("The terminal could not do what was asked: %(detail)s", detail=detail))


def parse_address(address: str) -> tuple[str, int]:
    """``HOST`` or ``HOST:PORT`` (``[v6]:PORT`` for IPv6) with port 4370 by default."""
    address = address.strip()
    host, port = address, 4370
    if address.startswith("["):
        host, _sep, rest = address[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:])
    elif address.count(":") == 1:
        host, raw = address.split(":")
        port = _port(raw)
    if not host or not _HOST.match(host):
        raise ValidationError(
            _("That is not a host name or address; type e.g. 192.168.1.201 or 192.168.1.201:4370."),
            details={"field": "address"},
        )
    return host, port


def _port(raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValidationError(
            _("That is not a port number (1 to 65535)."), details={"field": "port"}
        )
    return int(raw)


def _validate(
    timezone: str,
    comm_key: int,
    transport: str,
    encoding: str,
    name: str | None,
    sync_interval_s: int,
) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            _("That is not an IANA time zone (such as Asia/Shanghai)."),
            details={"field": "timezone"},
        ) from None
    if not 0 <= comm_key <= MAX_COMM_KEY:
        raise ValidationError(
            _("A comm key is a number from 0 to %(n)d.", n=MAX_COMM_KEY),
            details={"field": "comm_key"},
        )
    if transport not in (Transport.TCP, Transport.UDP):
        raise ValidationError(_("The transport is tcp or udp."), details={"field": "transport"})
    if encoding not in ENCODINGS:
        raise ValidationError(
            _("The encoding is one of: %(encodings)s.", encodings=", ".join(ENCODINGS)),
            details={"field": "encoding"},
        )
    if name is not None and not 0 < len(name.strip()) <= 100:
        raise ValidationError(
            _("A name has 1 to %(n)d characters.", n=100), details={"field": "name"}
        )
    if sync_interval_s < 10:
        raise ValidationError(
            _("The sync interval is at least %(n)d seconds.", n=10),
            details={"field": "sync_interval_s"},
        )


def _capabilities(info: DeviceInfo, sizes: DeviceSizes) -> dict[str, object]:
    return {
        "users_capacity": sizes.users_capacity,
        "fingers_capacity": sizes.fingers_capacity,
        "records_capacity": sizes.records_capacity,
        "fp_version": info.fp_version,
        "face_version": info.face_version,
        "pin_width": info.pin_width,
        "mac": info.mac,
    }


def register_terminal(
    db: Session,
    *,
    address: str,
    actor: Actor,
    kek: KeyEncryptionKey,
    comm_key: int = 0,
    transport: str = "tcp",
    timezone: str,
    name: str | None = None,
    encoding: str = "utf-8",
    area_id: int | None = None,
    clear_after_sync: bool = False,
    sync_interval_s: int = 300,
    connect: Connect = ZkClient,
    now: datetime | None = None,
) -> Registration:
    """Reach the terminal at ``address``, read who it is, and record or follow it."""
    host, port = parse_address(address)
    _validate(timezone, comm_key, transport, encoding, name, sync_interval_s)
    endpoint = Endpoint(
        host=host, port=port, transport=Transport(transport), comm_key=comm_key, encoding=encoding
    )
    with connect(endpoint) as client:
        info = client.info()
        sizes = client.sizes()
    now = now or utcnow()
    serial = info.serial_number
    if not serial or not is_identifier(serial) or len(serial) > SERIAL_MAX:
        # A terminal's punches, commands and log entries are keyed on its serial number:
        # one that is empty or holds spaces or odd characters would not stay one identity.
        raise ValidationError(
            _(
                "The terminal at %(address)s reports serial number %(serial)s, which Rollcall "
                "cannot use to tell terminals apart (letters, digits and _.:/+,- only, at most "
                "%(n)d); check the terminal's settings.",
                address=f"{host}:{port}",
                serial=repr(serial)[: SERIAL_MAX + 8],
                n=SERIAL_MAX,
            ),
            details={"field": "address"},
        )
    same_address = db.scalar(
        select(Terminal).where(
            Terminal.host == host, Terminal.port == port, Terminal.serial_number != serial
        )
    )
    if same_address is not None:
        record_event(
            db,
            "terminal.identity_mismatch",
            actor=actor,
            object_type="terminal",
            object_id=same_address.id,
            details={"found_serial": serial},
        )
        raise ConflictError(
            _(
                "%(address)s belongs to terminal %(expected)s, but a terminal with serial "
                "%(found)s answers there: it was replaced or the address was reassigned. Change "
                "or remove the registered terminal first; Rollcall will not mix the two "
                "terminals' data.",
                address=f"{host}:{port}",
                expected=same_address.serial_number,
                found=serial,
            ),
            details={"expected": same_address.serial_number, "found": serial},
        )
    existing = db.scalar(select(Terminal).where(Terminal.serial_number == serial))
    sealed = seal_comm_key(kek, comm_key, serial)
    if existing is not None:
        if (existing.host, existing.port, existing.transport) == (host, port, transport):
            raise ConflictError(_("Terminal %(serial)s is already registered.", serial=serial))
        moved_from = f"{existing.host}:{existing.port}"
        existing.host, existing.port, existing.transport = host, port, transport
        existing.comm_key_sealed = sealed
        existing.next_attempt_at = now
        record_event(
            db,
            "terminal.moved",
            actor=actor,
            object_type="terminal",
            object_id=existing.id,
            details={"from": moved_from, "to": f"{host}:{port}"},
        )
        db.flush()
        return Registration(existing, created=False, moved_from=moved_from)
    terminal = Terminal(
        serial_number=serial,
        name=(name or info.device_name or serial).strip()[:100],
        host=host,
        port=port,
        transport=transport,
        comm_key_sealed=sealed,
        timezone=timezone,
        encoding=encoding,
        area_id=area_id,
        model=info.device_name,
        platform=info.platform,
        firmware=info.firmware,
        capabilities=_capabilities(info, sizes),
        enabled=True,
        sync_interval_s=sync_interval_s,
        clear_after_sync=clear_after_sync,
        auto_set_clock=False,
        consecutive_failures=0,
        next_attempt_at=now,
    )
    db.add(terminal)
    db.flush()
    record_event(
        db,
        "terminal.registered",
        actor=actor,
        object_type="terminal",
        object_id=terminal.id,
        details={"serial": serial, "transport": transport},
    )
    return Registration(terminal, created=True)


def get_terminal(db: Session, key: int | str) -> Terminal:
    """By id, or by serial number."""
    if isinstance(key, int):
        terminal = db.get(Terminal, key)
    else:
        terminal = db.scalar(select(Terminal).where(Terminal.serial_number == key))
    if terminal is None:
        if isinstance(key, str) and is_identifier(key) and len(key) <= SERIAL_MAX:
            # A serial typed at the command line: say which one was not found.
            raise NotFoundError(_("no terminal %(serial)s", serial=key))
        raise NotFoundError(_("No such terminal."))
    return terminal


def list_terminals(db: Session) -> list[Terminal]:
    return list(db.scalars(select(Terminal).order_by(Terminal.name, Terminal.id)))


def is_online(terminal: Terminal, now: datetime) -> bool:
    """Seen within two sync intervals (and not failing since)."""
    if terminal.last_seen_at is None or terminal.consecutive_failures:
        return False
    return now - terminal.last_seen_at <= timedelta(seconds=2 * terminal.sync_interval_s + 60)


def sync_now(
    db: Session,
    terminal: Terminal,
    *,
    kek: KeyEncryptionKey | None,
    actor: Actor,
    owner: str,
    progress: Progress | None = None,
    force: bool = False,
) -> SyncRun:
    """Sync one terminal at once, under its lease (never beside a worker's sync). Commits."""
    if not leases.claim(db, terminal.id, owner, utcnow()):
        db.rollback()
        raise ConflictError(
            _("Terminal %(serial)s is being synced right now.", serial=terminal.serial_number)
        )
    record_event(
        db, "terminal.sync_requested", actor=actor, object_type="terminal", object_id=terminal.id
    )
    db.commit()
    try:
        return sync_terminal(
            db,
            terminal,
            client_for(terminal, kek),
            trigger="manual",
            worker=owner,
            progress=progress,
            force=force,
            kek=kek,
        )
    finally:
        db.rollback()
        leases.release(db, terminal.id, owner)
        db.commit()


def quarantined_punches(db: Session, *, serial: str | None = None, limit: int = 200) -> list[Punch]:
    """Punches kept aside for an impossible time, newest first, with their reason."""
    query = select(Punch).where(Punch.status == "quarantined")
    if serial:
        query = query.where(Punch.terminal_serial == serial)
    return list(db.scalars(query.order_by(Punch.received_at.desc(), Punch.id.desc()).limit(limit)))


def pending_pins(db: Session) -> list[PinMapping]:
    """PINs seen on terminals that no employee holds yet (their punches are kept)."""
    return list(
        db.scalars(
            select(PinMapping)
            .where(PinMapping.employee_id.is_(None))
            .order_by(PinMapping.terminal_id, PinMapping.pin)
        )
    )


def assign_pin(
    db: Session, mapping_id: int, *, employee_id: int, actor: Actor
) -> tuple[PinMapping, int]:
    """Give a pending PIN to an employee; the punches it already has are attached to them.

    Only punches inside the mapping's validity range, on the terminals it covers, and not
    yet attached to anyone are touched, so a recycled PIN never takes another's history.
    Returns the mapping and how many punches were attached.
    """
    mapping = db.get(PinMapping, mapping_id)
    if mapping is None:
        raise NotFoundError(_("No such PIN."))
    if mapping.employee_id is not None:
        raise ConflictError(_("This PIN is already assigned."))
    employee = db.get(Employee, employee_id)
    if employee is None or employee.erased_at is not None:
        raise NotFoundError(_("No such employee."))
    mapping.employee_id = employee_id
    punches = update(Punch).where(
        Punch.pin == mapping.pin,
        Punch.employee_id.is_(None),
        Punch.occurred_at >= mapping.valid_from,
    )
    if mapping.valid_until is not None:
        punches = punches.where(Punch.occurred_at < mapping.valid_until)
    if mapping.terminal_id is not None:
        terminal = db.get(Terminal, mapping.terminal_id)
        punches = punches.where(
            Punch.terminal_serial == (terminal.serial_number if terminal else "")
        )
    result = db.execute(
        punches.values(employee_id=employee_id).execution_options(synchronize_session=False)
    )
    attached = rowcount(result)
    db.flush()
    record_event(
        db,
        "pin.assigned",
        actor=actor,
        object_type="pin_mapping",
        object_id=mapping.id,
        subject_employee_id=employee_id,
        details={"punches_attached": attached},
    )
    return mapping, attached
