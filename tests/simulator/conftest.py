# SPDX-License-Identifier: GPL-2.0-or-later
"""Fixtures for the terminal simulator's own tests (issue #3)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from zk import ZK

from terminals.simulator.server import SimulatedTerminal
from terminals.simulator.testing import SimulatorFleet


@pytest.fixture
def simulator() -> Iterator[SimulatorFleet]:
    """A fleet of simulated terminals on 127.0.0.1, all stopped at teardown."""
    with SimulatorFleet() as fleet:
        yield fleet


@pytest.fixture
def pyzk() -> Iterator[Callable[..., Any]]:
    """Connect unmodified pyzk 0.9 to a simulated terminal; every connection closes at teardown."""
    opened: list[Any] = []

    def connect(
        term: SimulatedTerminal,
        *,
        udp: bool = False,
        password: int | None = None,
        timeout: float = 5,
    ) -> Any:
        zk = ZK(
            term.host,
            port=term.port,
            timeout=timeout,
            password=term.device.comm_key if password is None else password,
            force_udp=udp,
            ommit_ping=True,
            encoding=term.device.profile.encoding,
        )
        # pyzk 0.9 opens a socket in its constructor and replaces it at connect() without
        # closing it; close it here so the ResourceWarning does not fail the test.
        getattr(zk, "_ZK__sock").close()  # noqa: B009 -- name-mangled pyzk attribute
        opened.append(zk)  # before connect(): a refused connect leaves its socket open too
        return zk.connect()

    yield connect
    for conn in opened:
        if conn.is_connect:
            with contextlib.suppress(Exception):  # best-effort cleanup of a test connection
                conn.disconnect()
        # Close the socket even when the session died, or it leaks a ResourceWarning.
        sock = getattr(conn, "_ZK__sock", None)
        if sock is not None:
            sock.close()
