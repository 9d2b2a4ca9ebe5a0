# SPDX-License-Identifier: GPL-2.0-or-later
"""The network guard fails any test that reaches beyond loopback."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import NonLoopbackConnectionError


def test_a_tcp_connection_to_a_lan_address_is_refused(network_violations: list[str]) -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(NonLoopbackConnectionError),
    ):
        sock.connect(("192.168.1.201", 4370))
    assert network_violations == ["non-loopback connection attempted to '192.168.1.201'"]
    network_violations.clear()


def test_a_udp_datagram_to_a_public_address_is_refused(network_violations: list[str]) -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        pytest.raises(NonLoopbackConnectionError),
    ):
        sock.sendto(b"\x00", ("198.51.100.7", 4370))
    network_violations.clear()


def test_a_name_lookup_is_refused(network_violations: list[str]) -> None:
    with pytest.raises(NonLoopbackConnectionError):
        socket.create_connection(("example.com", 80), timeout=1)
    assert network_violations == ["name lookup attempted for 'example.com'"]
    network_violations.clear()


def test_the_guard_cannot_be_swallowed_by_code_that_catches_os_errors(
    network_violations: list[str],
) -> None:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        sock.connect(("2001:db8::1", 80, 0, 0))
    except OSError:  # what a retry loop would catch
        pytest.fail("the guard's error must not be an OSError")
    except NonLoopbackConnectionError:
        pass
    finally:
        sock.close()
    assert network_violations  # the autouse fixture would fail the test on this record
    network_violations.clear()


def test_loopback_connections_work() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        with socket.create_connection(("localhost", port), timeout=2) as client:
            peer, _ = server.accept()
            client.sendall(b"ping")
            assert peer.recv(4) == b"ping"
            peer.close()
