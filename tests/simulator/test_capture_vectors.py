# SPDX-License-Identifier: GPL-2.0-or-later
"""Real-device and client capture vectors (reference §4, §6, §10-§12, §19, Appendix A).

Each vector is data quoted in ``shared/reference/zk-binary-protocol.md`` with its origin: our
codec parses it and re-serialises it byte for byte, and the simulator answers the captured
client requests with packets of the same layout.
"""

from __future__ import annotations

import struct
from datetime import datetime

import pytest

from terminals.simulator.codec import (
    Cmd,
    Punch,
    Reply,
    TcpDeframer,
    checksum,
    commkey_matches,
    decode_buffer_request,
    decode_event_time,
    decode_packet,
    decode_punch40,
    decode_sizes,
    decode_tcp_packet,
    encode_event,
    encode_packet,
    frame_tcp,
    make_commkey,
)
from terminals.simulator.testing import RawClient, SimulatorFleet
from terminals.zktime import decode_time, encode_time

# (name, TCP-framed hex, origin). The TCP prefix carries the real length (§12: never the fake
# 1016 of some event captures).
APPENDIX_A = [
    ("CONNECT", "5050827d08000000e80317fc00000000", "pyzk test.py"),
    ("ACK_OK no key", "5050827d08000000d007fffc2ffb0000", "device, test.py"),
    ("ACK_UNAUTH", "5050827d08000000d5075bb2cf450000", "device, test.py"),
    ("AUTH key 45", "5050827d0c0000004e044db0cf45010061c9323c", "pyzk test.py"),
    ("EXIT", "5050827d08000000e903e6002ffb0100", "pyzk test.py"),
    ("GET_FREE_SIZES", "5050827d080000003200fcb9cf450200", "pyzk test.py"),
    ("1503 users", "5050827d13000000df053ca6cf4514000109000500000000000000", "pyzk test.py"),
    ("1503 ACK", "5050827d15000000d007a7625c3c150000b4130000b4130000cdef2300", "device, test.py"),
    ("PREPARE_DATA", "5050827d10000000dc050da65c3c1600b4130000f0030000", "device, test.py"),
    (
        "RT event 32 B (F19)",
        "5050827d28000000f401ac1201000000" + b"999111333".hex() + "00" * 15 + "0100120619112905",
        "zk-protocol realtime.md",
    ),
]

# (header + payload hex, command, checksum, session, reply), reference §4 table.
CHECKSUM_TABLE = [
    ("e80317fc00000000", 1000, 0xFC17, 0, 0),
    ("d007fffc2ffb0000", 2000, 0xFCFF, 0xFB2F, 0),
    ("d5075bb2cf450000", 2005, 0xB25B, 0x45CF, 0),
    ("4e044db0cf45010061c9323c", 1102, 0xB04D, 0x45CF, 1),
    ("e903e6002ffb0100", 1001, 0x00E6, 0xFB2F, 1),
    ("3200fcb9cf450200", 50, 0xB9FC, 0x45CF, 2),
    ("df053ca6cf4514000109000500000000000000", 1503, 0xA63C, 0x45CF, 20),
    ("d007a7625c3c150000b4130000b4130000cdef2300", 2000, 0x62A7, 0x3C5C, 21),
    ("dc050da65c3c1600b4130000f0030000", 1500, 0xA60D, 0x3C5C, 22),
    ("0b005a17f38d03005a4b4661636556657273696f6e00", 11, 0x175A, 0x8DF3, 3),
    ("d007296af38d0a0009", 2000, 0x6A29, 0x8DF3, 10),
    ("f401ae4301000000f19449000000120c07130906", 500, 0x43AE, 1, 0),
    ("f401ac1201000000" + b"999111333".hex() + "00" * 15 + "0100120619112905", 500, 0x12AC, 1, 0),
]


@pytest.mark.parametrize(("name", "hexdata", "origin"), APPENDIX_A)
def test_codec_reparses_and_reserialises_appendix_a_byte_for_byte(
    name: str, hexdata: str, origin: str
) -> None:
    raw = bytes.fromhex(hexdata)
    pkt = decode_tcp_packet(raw)
    assert pkt.checksum_ok, f"{name} ({origin})"
    assert frame_tcp(encode_packet(pkt.command, pkt.session, pkt.reply, pkt.payload)) == raw


@pytest.mark.parametrize(("hexdata", "command", "chk", "session", "reply"), CHECKSUM_TABLE)
def test_checksum_table_fields_and_bytes_round_trip(
    hexdata: str, command: int, chk: int, session: int, reply: int
) -> None:
    raw = bytes.fromhex(hexdata)
    pkt = decode_packet(raw)
    assert (pkt.command, pkt.checksum, pkt.session, pkt.reply) == (command, chk, session, reply)
    assert checksum(raw[:2] + b"\x00\x00" + raw[4:]) == chk
    assert encode_packet(command, session, reply, pkt.payload) == raw


def test_deframer_splits_pipelined_and_fragmented_capture_packets() -> None:
    stream = b"".join(bytes.fromhex(h) for _, h, _ in APPENDIX_A)
    deframer = TcpDeframer()
    packets = []
    for i in range(0, len(stream), 7):  # 7-byte fragments, like a slow link
        packets += deframer.feed(stream[i : i + 7])
    assert [p.command for p in packets] == [
        decode_tcp_packet(bytes.fromhex(h)).command for _, h, _ in APPENDIX_A
    ]


@pytest.mark.parametrize(
    ("password", "auth"), [(45, "61c9323c"), (12, "614d323c"), (0, "617d323c")]
)
def test_commkey_matches_the_reference_vectors(password: int, auth: str) -> None:
    # Reference §6 table, session 0x45cf, ticks 50 (45 and 12 also in pyzk test.py).
    assert make_commkey(password, 0x45CF, 50) == bytes.fromhex(auth)
    assert commkey_matches(bytes.fromhex(auth), password, 0x45CF)
    assert not commkey_matches(bytes.fromhex(auth), password + 1, 0x45CF)


def test_time_encoding_vectors() -> None:
    # Reference §10.1: encode and decode vectors.
    assert encode_time(datetime(2025, 1, 2, 3, 4, 5)) == 803617445
    assert struct.pack("<I", 803617445) == bytes.fromhex("a53ae62f")
    assert decode_time(struct.unpack("<I", bytes.fromhex("6bb36823"))[0]) == datetime(
        2018, 6, 25, 17, 50, 35
    )


def test_realtime_event_vectors_round_trip() -> None:
    # 12-byte B&W event from pyzk test.py: user 4822257, 2018-12-07 19:09:06.
    small = bytes.fromhex("f19449000000120c07130906")
    assert decode_event_time(small[6:]) == datetime(2018, 12, 7, 19, 9, 6)
    assert encode_event(Punch("4822257", datetime(2018, 12, 7, 19, 9, 6), 0, 0), 12) == small
    # 32-byte F19 event from zk-protocol realtime.md: user 999111333, verify 1, 2018-06-25.
    big = b"999111333" + b"\x00" * 15 + bytes.fromhex("0100120619112905")
    punch = Punch("999111333", datetime(2018, 6, 25, 17, 41, 5), 1, 0)
    assert encode_event(punch, 32) == big


def test_f19_40_byte_attendance_record_decodes() -> None:
    # zk-protocol data-record.md: serial 13, user 999111333, finger, 2018-06-25 17:50:35, in.
    raw = (
        bytes.fromhex("0d00")
        + b"999111333".ljust(24, b"\x00")
        + bytes.fromhex("01 6bb36823 00 00000000ff000000")
    )
    uid, punch = decode_punch40(raw)
    assert uid == 13
    assert punch == Punch("999111333", datetime(2018, 6, 25, 17, 50, 35), 1, 0)


def test_free_sizes_vector_fields() -> None:
    # pyzk test.py tuple quoted in §9, from i32 index 4: 7 users, 6 fingers, 605 records.
    fields = [0, 0, 0, 0, 7, 0, 6, 0, 605, 0, 3087, 0, 1, 0, 3000, 10000, 100000, 2994, 9993, 99395]
    sizes = decode_sizes(struct.pack("<20i", *fields))
    assert (sizes.users, sizes.fingers, sizes.records, sizes.oplog) == (7, 6, 605, 3087)
    assert (sizes.fingers_cap, sizes.users_cap, sizes.records_cap) == (3000, 10000, 100000)


def test_1503_request_vector_decodes_as_a_user_read() -> None:
    req = decode_buffer_request(bytes.fromhex("0109000500000000000000"))
    assert (req.command, req.fct) == (Cmd.USERTEMP_RRQ, 5)


def test_simulator_answers_captured_requests_with_the_captured_layouts() -> None:
    with SimulatorFleet() as fleet:
        # 70 TFT users = 5044 bytes, the size of the captured buffered read.
        term = fleet.start("tft", users=70, records=10, comm_key=45)
        with RawClient(term.host, term.port) as c:
            first = c.request(Cmd.CONNECT)
            assert (first.command, first.payload) == (Reply.ACK_UNAUTH, b"")
            c.session_id = first.session
            auth = c.request(Cmd.AUTH, make_commkey(45, first.session, 50))
            assert (auth.command, auth.payload, auth.session) == (Reply.ACK_OK, b"", first.session)

            sizes = c.request(Cmd.GET_FREE_SIZES)
            assert sizes.command == Reply.ACK_OK
            assert len(sizes.payload) == 80
            assert decode_sizes(sizes.payload).users == 70

            c.reply_id = 20  # the captured 1503 carries reply id 20
            ready = c.request(Cmd.PREPARE_BUFFER, bytes.fromhex("0109000500000000000000"))
            assert (ready.command, ready.reply, len(ready.payload)) == (Reply.ACK_OK, 20, 13)
            assert ready.payload[:9] == bytes.fromhex("00b4130000b4130000")

            c.send(Cmd.READ_BUFFER, struct.pack("<ii", 0, 5044))
            prepare = c.recv()
            assert prepare.command == Cmd.PREPARE_DATA
            assert prepare.payload[:4] == bytes.fromhex("b4130000")
            assert len(prepare.payload) == 8
            data = c.recv()
            assert (data.command, len(data.payload)) == (Cmd.DATA, 5044)
            assert c.recv().command == Reply.ACK_OK

            bye = c.request(Cmd.EXIT)
            assert (bye.command, bye.payload) == (Reply.ACK_OK, b"")
