# SPDX-License-Identifier: GPL-2.0-or-later
"""The pyzk adapter against the simulator over real sockets: our types out, our errors out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from terminals import zktime
from terminals.base import (
    Endpoint,
    TerminalAuthError,
    TerminalError,
    TerminalUnreachableError,
    Transport,
    UnsupportedRecordFormatError,
)
from terminals.zk import records
from terminals.zk.client import ZkClient


def endpoint(term: Any, **overrides: Any) -> Endpoint:
    values: dict[str, Any] = {
        "host": term.host,
        "port": term.port,
        "comm_key": term.device.comm_key,
        "encoding": term.device.profile.encoding,
        "timeout_s": 5,
    }
    values.update(overrides)
    return Endpoint(**values)


def expected_punches(term: Any) -> set[tuple[str, datetime, int, int]]:
    return {(p.user_id, p.timestamp, p.status, p.punch) for p in term.device.attendance()}


@pytest.mark.parametrize("transport", [Transport.TCP, Transport.UDP])
@pytest.mark.parametrize("model", ["bw", "bw8", "tft"])
def test_it_reads_every_punch_and_user_as_the_device_holds_them(
    simulator: Any, model: str, transport: Transport
) -> None:
    term = simulator.start(model=model, users=12, records=300, comm_key=4242)
    with ZkClient(endpoint(term, transport=transport)) as client:
        info = client.info()
        sizes = client.sizes()
        users = client.users()
        punches = client.punches(users)
    assert info.serial_number == term.serial
    assert sizes.records == 300
    assert {(u.uid, u.pin) for u in users} == {(u.uid, u.user_id) for u in term.device.users()}
    got = {(p.pin, p.device_time, p.verify_type, p.punch_state) for p in punches}
    assert len(punches) == 300
    assert got == expected_punches(term)


def test_a_wrong_comm_key_is_an_auth_error(simulator: Any) -> None:
    term = simulator.start(comm_key=1234)
    with pytest.raises(TerminalAuthError), ZkClient(endpoint(term, comm_key=999)):
        pass


def test_nobody_listening_is_unreachable() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ep = Endpoint(host="127.0.0.1", port=port, timeout_s=1)
    with pytest.raises(TerminalUnreachableError), ZkClient(ep):
        pass


def test_the_device_is_enabled_again_when_a_read_fails(simulator: Any) -> None:
    term = simulator.start(records=50)
    disabled_meanwhile = []

    def read_then_fail() -> None:
        with ZkClient(endpoint(term)) as client:
            client.disable()
            disabled_meanwhile.append(not term.device.enabled)
            raise UnsupportedRecordFormatError("simulated bad batch")

    with pytest.raises(UnsupportedRecordFormatError):
        read_then_fail()
    assert disabled_meanwhile == [True]
    assert term.device.enabled


def test_gbk_names_come_back_intact(simulator: Any) -> None:
    term = simulator.start(model="iface", users=5, records=5, names="chinese")
    with ZkClient(endpoint(term)) as client:
        names = {u.name for u in client.users()}
    assert names == {u.name for u in term.device.users()}
    assert any(ord(ch) > 0x4E00 for name in names for ch in name)


def test_time_codec_matches_the_reference_vectors() -> None:
    # zk-binary-protocol.md §10.1
    assert zktime.encode_time(datetime(2025, 1, 2, 3, 4, 5)) == 803617445
    assert zktime.decode_time_lenient(0x2368B36B) == (datetime(2018, 6, 25, 17, 50, 35), True)


def test_an_impossible_date_is_kept_and_flagged_not_dropped() -> None:
    # 31 February 2026, 08:00: the packed form a confused clock can produce.
    packed = ((26 * 12 + 1) * 31 + 30) * 86400 + 8 * 3600
    when, valid = zktime.decode_time_lenient(packed)
    assert (when, valid) == (datetime(2026, 3, 3, 8, 0), False)


def test_a_buffer_of_no_known_layout_is_refused() -> None:
    with pytest.raises(UnsupportedRecordFormatError):
        records.record_size(49 * 10, 10)
    # a stale count is settled by the layout the terminal used before
    assert records.record_size(40 * 11, 10, hint=40) == 40


def test_a_log_cut_short_by_lost_datagrams_is_an_error_not_a_short_read(simulator: Any) -> None:
    # Unmodified pyzk returns a truncated log here (tests/simulator/test_faults.py).
    term = simulator.start(model="bw", users=5, records=3_000)
    with ZkClient(endpoint(term, transport=Transport.UDP, timeout_s=0.5)) as client:
        term.faults.lose_datagrams(every=5)
        with pytest.raises(TerminalError):
            client.punches()


def test_the_fast_checksum_equals_pyzks_own_on_every_kind_of_packet() -> None:
    from terminals.simulator.device import simulation_rng
    from terminals.zk.client import PYZK_CHECKSUM, _checksum_as_pyzk

    assert PYZK_CHECKSUM is not None
    zk = None  # the checksum uses nothing of the instance (and a ZK() opens a socket)
    rng = simulation_rng(11)
    packets = [b"", b"\x00", b"\xff", b"\x00" * 9, b"\xff" * 8, b"\xff" * 1033]
    packets += [
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 1100))) for _ in range(300)
    ]
    for raw in packets:
        as_tuple = tuple(raw)  # pyzk passes the packet unpacked into ints
        assert _checksum_as_pyzk(zk, as_tuple) == PYZK_CHECKSUM(zk, as_tuple), raw[:16].hex()
