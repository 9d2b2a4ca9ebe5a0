# SPDX-License-Identifier: GPL-2.0-or-later
"""Protocol rules of reference §14 checked with exact bytes (a raw client, not pyzk)."""

from __future__ import annotations

import os
import socket
import struct
from datetime import datetime
from pathlib import Path

import pytest

from terminals.simulator.codec import (
    Cmd,
    Reply,
    encode_packet,
    frame_tcp,
)
from terminals.simulator.device import simulation_rng
from terminals.simulator.testing import RawClient, SimulatorFleet
from terminals.zktime import decode_time, encode_time

TRANSPORTS = ("tcp", "udp")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_garbage_never_crashes_the_simulator(simulator: SimulatorFleet, transport: str) -> None:
    term = simulator.start("tft", users=3, records=20)
    udp = transport == "udp"
    rng = simulation_rng(3)
    with RawClient(term.host, term.port, udp=udp, timeout=0.5) as c:
        for size in (1, 3, 7, 8, 9, 64, 1500):
            junk = bytes(rng.randrange(256) for _ in range(size))
            c.send_raw(junk)
        # A TCP magic with an absurd length, then a header-only runt packet.
        c.send_raw(b"\x50\x50\x82\x7d\xff\xff\xff\x7f")
        if not udp:
            c.send_raw(frame_tcp(b"\x01\x02"))
    # The terminal still serves a well-behaved client afterwards.
    with RawClient(term.host, term.port, udp=udp) as c:
        assert c.connect().command == Reply.ACK_OK
        assert c.request(Cmd.GET_VERSION).command == Reply.ACK_OK
    assert term.running


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_bad_payloads_get_ack_error_not_a_crash(simulator: SimulatorFleet, transport: str) -> None:
    term = simulator.start("tft", users=3, records=20)
    with RawClient(term.host, term.port, udp=transport == "udp") as c:
        c.connect()
        for cmd in (
            Cmd.SET_TIME,
            Cmd.USER_WRQ,
            Cmd.DELETE_USER,
            Cmd.READ_BUFFER,
            Cmd.PREPARE_BUFFER,
            Cmd.TMP_WRITE,
            Cmd.SAVE_USERTEMPS,
        ):
            assert c.request(cmd, b"\x01").command == Reply.ACK_ERROR, cmd
        # 31 February does not exist: refused, clock untouched.
        bogus = encode_time(datetime(2024, 2, 28)) + 3 * 86400
        assert c.request(Cmd.SET_TIME, struct.pack("<I", bogus)).command == Reply.ACK_ERROR
        assert c.request(Cmd.GET_TIME).command == Reply.ACK_OK


def test_unknown_commands_get_ack_unknown_and_acks_get_nothing(simulator: SimulatorFleet) -> None:
    term = simulator.start("bw", users=1, records=1)
    with RawClient(term.host, term.port, timeout=0.3) as c:
        c.connect()
        unknown = c.request(4321)
        assert (unknown.command, unknown.payload) == (Reply.ACK_UNKNOWN, b"")
        assert c.request(Reply.ACK_ERROR).command == Reply.ACK_UNKNOWN  # pyzk's _clear_error
        c.send(Reply.ACK_OK)
        with pytest.raises(TimeoutError):
            c.recv()


def test_plain_acks_carry_no_payload_and_echo_the_reply_id(simulator: SimulatorFleet) -> None:
    term = simulator.start("tft", users=1, records=1)
    with RawClient(term.host, term.port) as c:
        hello = c.connect()
        for cmd in (Cmd.DISABLEDEVICE, Cmd.ENABLEDEVICE, Cmd.REFRESHDATA, Cmd.FREE_DATA):
            c.reply_id = 4000 + cmd
            ack = c.request(cmd)
            assert (ack.command, ack.payload, ack.reply, ack.session) == (
                Reply.ACK_OK,
                b"",
                4000 + cmd,
                hello.session,
            )


def test_commands_before_authentication_are_refused(simulator: SimulatorFleet) -> None:
    term = simulator.start("tft", users=1, records=1, comm_key=99)
    with RawClient(term.host, term.port) as c:
        assert c.request(Cmd.CONNECT).command == Reply.ACK_UNAUTH
        assert c.request(Cmd.GET_FREE_SIZES).command == Reply.ACK_UNAUTH
    with RawClient(term.host, term.port) as c:
        assert c.connect(comm_key=99).command == Reply.ACK_OK
        assert c.request(Cmd.GET_FREE_SIZES).command == Reply.ACK_OK


def test_zkteco_js_request_variants_are_accepted(simulator: SimulatorFleet) -> None:
    term = simulator.start("tft", users=2, records=5)
    with RawClient(term.host, term.port) as c:
        c.connect()
        assert c.request(Cmd.DISABLEDEVICE, b"\x00" * 4).command == Reply.ACK_OK
        serial = c.request(Cmd.OPTIONS_RRQ, b"~SerialNumber")  # no trailing NUL
        assert serial.payload == f"~SerialNumber={term.serial}".encode() + b"\x00"
        moment = datetime(2029, 3, 4, 5, 6, 7)
        long_set = struct.pack("<I", encode_time(moment)).ljust(32, b"\x00")
        assert c.request(Cmd.SET_TIME, long_set).command == Reply.ACK_OK
        got = decode_time(struct.unpack("<I", c.request(Cmd.GET_TIME).payload)[0])
        assert abs((got - moment).total_seconds()) < 3
        assert c.request(Cmd.OPTIONS_RRQ, b"NoSuchOption\x00").command == Reply.ACK_ERROR


def test_pipelined_chunk_requests_are_answered_in_order(simulator: SimulatorFleet) -> None:
    term = simulator.start("tft", records=4000, users=30)  # 160,004 bytes: 3 chunks
    with RawClient(term.host, term.port) as c:
        c.connect()
        ready = c.request(Cmd.PREPARE_BUFFER, struct.pack("<bHiI", 1, Cmd.ATTLOG_RRQ, 0, 0))
        (size,) = struct.unpack_from("<I", ready.payload, 1)
        starts = list(range(0, size, 0xFFC0))
        batch = b"".join(
            frame_tcp(
                encode_packet(
                    Cmd.READ_BUFFER,
                    c.session_id,
                    100 + i,
                    struct.pack("<ii", s, min(0xFFC0, size - s)),
                )
            )
            for i, s in enumerate(starts)
        )
        c.send_raw(batch)  # zkteco-js style: all 1504 requests at once
        data = bytearray()
        for i in range(len(starts)):
            prepare = c.recv()
            assert (prepare.command, prepare.reply) == (Cmd.PREPARE_DATA, 100 + i)
            chunk = c.recv()
            assert (chunk.command, chunk.reply) == (Cmd.DATA, 100 + i)
            data += chunk.payload
            assert c.recv().command == Reply.ACK_OK
        assert bytes(data) == term.device.attendance_data()


def test_clear_data_by_type_and_everything(simulator: SimulatorFleet) -> None:
    term = simulator.start("tft", users=5, records=50, fingers=3)
    with RawClient(term.host, term.port) as c:
        c.connect()
        assert c.request(Cmd.CLEAR_DATA, b"\x01").command == Reply.ACK_OK
        assert term.device.record_count == 0
        assert len(term.device.users()) == 5
        assert c.request(Cmd.CLEAR_DATA).command == Reply.ACK_OK
        sizes = term.device.sizes()
        assert (sizes.users, sizes.fingers, sizes.records) == (0, 0, 0)


def test_udp_data_packets_fit_in_1024_bytes(simulator: SimulatorFleet) -> None:
    term = simulator.start("tft", records=1000, users=10)
    with RawClient(term.host, term.port, udp=True) as c:
        c.connect()
        ready = c.request(Cmd.PREPARE_BUFFER, struct.pack("<bHiI", 1, Cmd.ATTLOG_RRQ, 0, 0))
        c.send(Cmd.READ_BUFFER, struct.pack("<ii", 0, 16384))
        sizes = []
        while (pkt := c.recv()).command != Reply.ACK_OK:
            if pkt.command == Cmd.DATA:
                sizes.append(len(pkt.payload))
        assert ready.command == Reply.ACK_OK
        assert sum(sizes) == 16384
        assert max(sizes) <= 1024


def test_a_bare_tcp_probe_is_tolerated(simulator: SimulatorFleet) -> None:
    term = simulator.start("bw", users=1, records=1)
    for _ in range(3):
        with socket.create_connection((term.host, term.port)):
            pass
    with RawClient(term.host, term.port) as c:
        assert c.connect().command == Reply.ACK_OK


def test_state_file_survives_a_simulator_restart(
    simulator: SimulatorFleet, tmp_path: os.PathLike[str]
) -> None:
    state = Path(tmp_path) / "term.json"
    term = simulator.start("tft", users=4, records=40, state_path=state)
    term.device.add_user("9001", "Ines Novak")
    term.device.add_punch("9001", datetime(2030, 6, 1, 9, 0, 0))
    serial, port = term.serial, term.port
    term.stop()
    again = simulator.start(state_path=state, port=port)
    assert again.serial == serial
    assert again.device.user_by_id("9001") is not None
    assert again.device.record_count == 41
    assert again.device.attendance()[-1].timestamp == datetime(2030, 6, 1, 9, 0, 0)
