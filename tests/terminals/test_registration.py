# SPDX-License-Identifier: GPL-2.0-or-later
"""Adding terminals by address: identity is the serial number, data never mixes."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from biometrics.keys import KeyEncryptionKey
from server.audit.models import AuditEvent
from server.audit.services import Actor
from server.devices.models import Terminal
from server.devices.services import register_terminal
from server.errors import ConflictError, ValidationError
from server.sealing import open_secret
from terminals.base import TerminalAuthError, TerminalUnreachableError

ACTOR = Actor.system("test")


@pytest.fixture
def kek() -> KeyEncryptionKey:
    return KeyEncryptionKey.generate()


def add(db: Session, kek: KeyEncryptionKey, term: Any, **kwargs: Any) -> Any:
    values: dict[str, Any] = {"timezone": "Europe/Lisbon", "comm_key": term.device.comm_key}
    values.update(kwargs)
    return register_terminal(db, address=f"{term.host}:{term.port}", actor=ACTOR, kek=kek, **values)


def actions(db: Session) -> list[str]:
    return list(db.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_it_reads_the_terminals_identity_and_seals_its_comm_key(
    db: Session, simulator: Any, kek: KeyEncryptionKey
) -> None:
    term = simulator.start(model="tft", comm_key=135790)
    reg = add(db, kek, term, name="Gate 1")
    t = reg.terminal
    assert reg.created
    assert (t.serial_number, t.name, t.model, t.platform) == (
        term.serial,
        "Gate 1",
        term.device.profile.device_name,
        term.device.profile.platform,
    )
    assert t.capabilities["users_capacity"] == term.device.profile.users_cap
    assert t.comm_key_sealed is not None
    assert b"135790" not in t.comm_key_sealed
    assert open_secret(kek, t.comm_key_sealed, purpose="comm-key", owner=t.serial_number) == (
        "135790"
    )
    assert actions(db) == ["terminal.registered"]


def test_a_known_serial_at_a_new_address_is_followed(
    db: Session, simulator: Any, kek: KeyEncryptionKey
) -> None:
    term = simulator.start()
    first = add(db, kek, term).terminal
    old_port = term.port
    term.move()  # DHCP gave it a new address
    assert term.port != old_port
    reg = add(db, kek, term)
    assert not reg.created
    assert reg.terminal.id == first.id
    assert reg.terminal.port == term.port
    assert reg.moved_from == f"127.0.0.1:{old_port}"
    assert db.scalar(select(func.count()).select_from(Terminal)) == 1
    assert actions(db)[-1] == "terminal.moved"


def test_a_different_serial_at_a_registered_address_is_refused(
    db: Session, simulator: Any, kek: KeyEncryptionKey
) -> None:
    term = simulator.start()
    original = add(db, kek, term).terminal
    simulator.replace(term)
    with pytest.raises(ConflictError) as caught:
        add(db, kek, term)
    assert original.serial_number in caught.value.message
    assert caught.value.details == {"expected": original.serial_number, "found": term.serial}
    assert db.scalar(select(func.count()).select_from(Terminal)) == 1
    assert actions(db)[-1] == "terminal.identity_mismatch"


def test_the_same_terminal_twice_is_a_clear_conflict(
    db: Session, simulator: Any, kek: KeyEncryptionKey
) -> None:
    term = simulator.start()
    add(db, kek, term)
    with pytest.raises(ConflictError, match="already registered"):
        add(db, kek, term)


def test_a_wrong_comm_key_or_no_terminal_stores_nothing(
    db: Session, simulator: Any, kek: KeyEncryptionKey
) -> None:
    term = simulator.start(comm_key=1111)
    with pytest.raises(TerminalAuthError):
        add(db, kek, term, comm_key=2222)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    with pytest.raises(TerminalUnreachableError):
        register_terminal(
            db, address=f"127.0.0.1:{closed_port}", actor=ACTOR, kek=kek, timezone="UTC"
        )
    assert db.scalar(select(func.count()).select_from(Terminal)) == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"address": "bad host name"}, "address"),
        ({"address": "10.0.0.5:99999"}, "port"),
        ({"timezone": "Moon/Base"}, "timezone"),
        ({"comm_key": 1_000_000}, "comm_key"),
        ({"transport": "push"}, "transport"),
        ({"encoding": "latin-1"}, "encoding"),
    ],
)
def test_bad_input_is_refused_before_any_connection(
    db: Session, kek: KeyEncryptionKey, kwargs: dict[str, Any], field: str
) -> None:
    # 10.0.0.5 is never contacted: the network guard would fail the test if it were.
    values: dict[str, Any] = {"address": "10.0.0.5", "timezone": "UTC"}
    values.update(kwargs)
    with pytest.raises(ValidationError) as caught:
        register_terminal(db, actor=ACTOR, kek=kek, **values)
    assert caught.value.details["field"] == field


@pytest.mark.parametrize("serial", ["ABC 123", "x" * 65, "GATE\u00e9"])
def test_a_serial_number_that_is_no_identifier_is_refused_clearly(
    db: Session, simulator: Any, kek: KeyEncryptionKey, serial: str
) -> None:
    term = simulator.start(serial=serial)
    with pytest.raises(ValidationError, match="serial number"):
        add(db, kek, term)
    assert db.scalar(select(func.count()).select_from(Terminal)) == 0
    assert actions(db) == []
