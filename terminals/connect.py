# SPDX-License-Identifier: GPL-2.0-or-later
"""From a terminal row to a ready client: its address, transport and (unsealed) comm key."""

from __future__ import annotations

from typing import Any

from biometrics.keys import KeyEncryptionKey
from server.devices.models import Terminal
from server.sealing import open_secret, seal_secret
from terminals.base import Endpoint, TerminalError, Transport
from terminals.zk.client import ZkClient

COMM_KEY_PURPOSE = "comm-key"
DEFAULT_TIMEOUT_S = 10.0


def seal_comm_key(kek: KeyEncryptionKey, comm_key: int, serial: str) -> bytes | None:
    if not comm_key:
        return None
    return seal_secret(kek, str(comm_key), purpose=COMM_KEY_PURPOSE, owner=serial)


def comm_key_of(terminal: Terminal, kek: KeyEncryptionKey | None) -> int:
    if terminal.comm_key_sealed is None:
        return 0
    if kek is None:
        raise TerminalError(
            f"terminal {terminal.serial_number} has a comm key but no key is loaded"
        )
    return int(
        open_secret(
            kek, terminal.comm_key_sealed, purpose=COMM_KEY_PURPOSE, owner=terminal.serial_number
        )
    )


def endpoint_for(
    terminal: Terminal, kek: KeyEncryptionKey | None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> Endpoint:
    if terminal.transport not in (Transport.TCP, Transport.UDP) or not terminal.host:
        raise TerminalError(
            f"terminal {terminal.serial_number} is not reachable over the binary protocol"
        )
    return Endpoint(
        host=terminal.host,
        port=terminal.port or 4370,
        transport=Transport(terminal.transport),
        comm_key=comm_key_of(terminal, kek),
        encoding=terminal.encoding,
        timeout_s=timeout_s,
    )


def client_for(terminal: Terminal, kek: KeyEncryptionKey | None, **kwargs: Any) -> ZkClient:
    caps = terminal.capabilities or {}
    return ZkClient(
        endpoint_for(terminal, kek, **kwargs),
        user_size=caps.get("user_size"),
        record_size=caps.get("record_size"),
    )
