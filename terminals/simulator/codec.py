# SPDX-License-Identifier: GPL-2.0-or-later
"""Pure encoders and decoders of the ZK binary protocol (port 4370).

Written from ``shared/reference/zk-binary-protocol.md`` only (clean-room, issue #3): no code
comes from pyzk or any other client. Every function here is free of I/O so the capture vectors
of the reference (§19, Appendix A) can be replayed through it byte for byte.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from terminals.zktime import decode_time, encode_time

TCP_MAGIC = b"\x50\x50\x82\x7d"
HEADER = struct.Struct("<4H")
TCP_TOP = struct.Struct("<4sI")
# A client packet larger than this is garbage: the biggest legitimate upload packet is a
# ≤1024-byte DATA (§11.5), so a generous bound keeps a hostile length from pinning memory.
MAX_TCP_PACKET = 1 << 20


class Cmd(IntEnum):
    """Command ids (§7); the names follow the reference's catalogue."""

    DB_RRQ = 7
    USER_WRQ = 8
    USERTEMP_RRQ = 9
    OPTIONS_RRQ = 11
    OPTIONS_WRQ = 12
    ATTLOG_RRQ = 13
    CLEAR_DATA = 14
    CLEAR_ATTLOG = 15
    DELETE_USER = 18
    DELETE_USERTEMP = 19
    CLEAR_ADMIN = 20
    UNLOCK = 31
    OPLOG_RRQ = 34
    GET_FREE_SIZES = 50
    STARTVERIFY = 60
    STARTENROLL = 61
    CANCELCAPTURE = 62
    STATE_RRQ = 64
    WRITE_LCD = 66
    CLEAR_LCD = 67
    GET_PINWIDTH = 69
    DOORSTATE_RRQ = 75
    TMP_WRITE = 87
    GET_USERTEMP = 88
    SAVE_USERTEMPS = 110
    CHECKSUM_BUFFER = 119
    DEL_USER_TEMP = 134
    GET_TIME = 201
    SET_TIME = 202
    REG_EVENT = 500
    CONNECT = 1000
    EXIT = 1001
    ENABLEDEVICE = 1002
    DISABLEDEVICE = 1003
    RESTART = 1004
    POWEROFF = 1005
    SLEEP = 1006
    RESUME = 1007
    REFRESHDATA = 1013
    REFRESHOPTION = 1014
    TESTVOICE = 1017
    GET_VERSION = 1100
    AUTH = 1102
    PREPARE_DATA = 1500
    DATA = 1501
    FREE_DATA = 1502
    PREPARE_BUFFER = 1503
    READ_BUFFER = 1504


class Reply(IntEnum):
    """Reply codes (§7, "Reply codes")."""

    ACK_OK = 2000
    ACK_ERROR = 2001
    ACK_DATA = 2002
    ACK_RETRY = 2003
    ACK_REPEAT = 2004
    ACK_UNAUTH = 2005
    ERROR_DATA = 0xFFFB
    ERROR_INIT = 0xFFFC
    ERROR_CMD = 0xFFFD
    ACK_UNKNOWN = 0xFFFF


EF_ATTLOG = 1
FCT_FINGERTMP = 2
FCT_USER = 5


# --- checksum and packets -------------------------------------------------------------------


def checksum(data: bytes) -> int:
    """Return the 16-bit one's-complement checksum of header (checksum zeroed) + payload (§4)."""
    total = 0
    n = len(data)
    if n >= 2:
        # Summing all words first and folding afterwards gives the same result as folding after
        # every addition (end-around carry is associative), and is much faster in Python.
        total = sum(struct.unpack_from(f"<{n // 2}H", data))
    if n % 2:
        total += data[-1]
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@dataclass(frozen=True, slots=True)
class Packet:
    """One protocol packet: the 8-byte header fields and the payload."""

    command: int
    session: int
    reply: int
    payload: bytes = b""
    checksum: int | None = field(default=None, compare=False)

    @property
    def checksum_ok(self) -> bool:
        """Tell whether the received checksum is the standard one (mismatches are only logged)."""
        return self.checksum is None or self.checksum == packet_checksum(
            self.command, self.session, self.reply, self.payload
        )


def packet_checksum(command: int, session: int, reply: int, payload: bytes) -> int:
    """Return the checksum of a packet with these fields."""
    return checksum(HEADER.pack(command, 0, session, reply) + payload)


def encode_packet(command: int, session: int, reply: int, payload: bytes = b"") -> bytes:
    """Return header + payload (a UDP datagram) with a standard checksum."""
    chk = packet_checksum(command, session, reply, payload)
    return HEADER.pack(command, chk, session, reply) + payload


def frame_tcp(packet: bytes) -> bytes:
    """Prefix a header + payload with the TCP top ``50 50 82 7d`` + LE u32 length (§3)."""
    return TCP_TOP.pack(TCP_MAGIC, len(packet)) + packet


def decode_packet(data: bytes) -> Packet:
    """Parse header + payload; raise ``ValueError`` if shorter than a header."""
    if len(data) < HEADER.size:
        raise ValueError("packet shorter than its 8-byte header")
    command, chk, session, reply = HEADER.unpack_from(data)
    return Packet(command, session, reply, bytes(data[HEADER.size :]), chk)


def decode_tcp_packet(data: bytes) -> Packet:
    """Parse one complete TCP-framed packet (top + header + payload)."""
    if data[:4] != TCP_MAGIC:
        raise ValueError("missing TCP magic 50 50 82 7d")
    (length,) = struct.unpack_from("<I", data, 4)
    if len(data) != 8 + length:
        raise ValueError("TCP length field does not match the packet")
    return decode_packet(data[8:])


class TcpDeframer:
    """Split a TCP byte stream into packets (§14 rule 1: clients may pipeline).

    Garbage never raises: bytes before a magic are skipped, and an absurd length drops the
    magic so the search resumes after it. ``skipped`` counts discarded bytes for logging.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.skipped = 0

    def feed(self, data: bytes) -> list[Packet]:
        """Add received bytes and return the complete packets they finish."""
        self._buf += data
        packets: list[Packet] = []
        buf = self._buf
        pos = 0
        while True:
            start = buf.find(TCP_MAGIC, pos)
            if start < 0:
                # Keep a possible partial magic at the end; the rest is garbage.
                keep = 3 if len(buf) - pos >= 3 else len(buf) - pos
                self.skipped += len(buf) - pos - keep
                pos = len(buf) - keep
                break
            self.skipped += start - pos
            pos = start
            if len(buf) - pos < 8:
                break
            (length,) = struct.unpack_from("<I", buf, pos + 4)
            if length < HEADER.size or length > MAX_TCP_PACKET:
                self.skipped += 4
                pos += 4
                continue
            end = pos + 8 + length
            if len(buf) < end:
                break
            packets.append(decode_packet(bytes(buf[pos + 8 : end])))
            pos = end
        del buf[:pos]
        return packets


# --- comm key (§6) --------------------------------------------------------------------------


def make_commkey(key: int, session_id: int, ticks: int = 50) -> bytes:
    """Return the 4-byte AUTH payload for comm key ``key`` in session ``session_id``."""
    key &= 0xFFFFFFFF
    reversed_key = int(f"{key:032b}"[::-1], 2)
    mixed = (reversed_key + session_id) & 0xFFFFFFFF
    b = bytearray(struct.pack("<I", mixed))
    for i, c in enumerate(b"ZKSO"):
        b[i] ^= c
    swapped = bytes(b[2:4] + b[0:2])
    tick = ticks & 0xFF
    return bytes((swapped[0] ^ tick, swapped[1] ^ tick, tick, swapped[3] ^ tick))


def commkey_matches(payload: bytes, key: int, session_id: int) -> bool:
    """Check an AUTH payload the way a device does: recompute with the tick byte it carries."""
    if len(payload) < 4:
        return False
    return payload[:4] == make_commkey(key, session_id, payload[2])


# --- time (§10.1, §12) ----------------------------------------------------------------------


def encode_event_time(t: datetime) -> bytes:
    """Return the six raw bytes ``YY MM DD hh mm ss`` realtime events carry."""
    return bytes((t.year % 100, t.month, t.day, t.hour, t.minute, t.second))


def decode_event_time(raw: bytes) -> datetime:
    """Decode six raw event-time bytes."""
    return datetime(raw[0] + 2000, raw[1], raw[2], raw[3], raw[4], raw[5])


# --- records --------------------------------------------------------------------------------


@dataclass(slots=True)
class User:
    """A user as the terminal stores it. ``uid`` is the internal serial, ``user_id`` the PIN."""

    uid: int
    user_id: str
    name: str = ""
    privilege: int = 0
    password: str = ""
    card: int = 0
    group_id: str = ""


@dataclass(frozen=True, slots=True)
class Punch:
    """An attendance record: ``status`` is the verify type, ``punch`` the in/out state (§10.4)."""

    user_id: str
    timestamp: datetime
    status: int = 1
    punch: int = 0
    workcode: int = 0


@dataclass(frozen=True, slots=True)
class Template:
    """A fingerprint template; the bytes never appear in a repr (STYLE §7)."""

    uid: int
    fid: int
    valid: int
    template: bytes = field(repr=False)


def _cstr(raw: bytes, encoding: str) -> str:
    """Decode a NUL-padded field leniently: client bytes may be anything."""
    return raw.split(b"\x00", 1)[0].decode(encoding, errors="replace")


def _fit(text: str, size: int, encoding: str) -> bytes:
    """Encode and cut to ``size`` bytes without splitting a multibyte character."""
    raw = text.encode(encoding, errors="replace")
    while len(raw) > size:
        text = text[:-1]
        raw = text.encode(encoding, errors="replace")
    return raw


def fit_text(text: str, size: int, encoding: str) -> str:
    """The longest prefix of ``text`` whose encoding fits ``size`` bytes."""
    return _fit(text, size, encoding).decode(encoding, errors="replace")


def _numeric_id(user_id: str) -> int:
    return int(user_id) if user_id.isdigit() else 0


USER28 = struct.Struct("<HB5s8sIxBhI")
USER72 = struct.Struct("<HB8s24sIB7sx24s")


def encode_user(user: User, size: int, encoding: str) -> bytes:
    """Encode a 28-byte (B&W) or 72-byte (TFT) user record (§10.2, §10.3)."""
    if size == 28:
        return USER28.pack(
            user.uid,
            user.privilege,
            _fit(user.password, 5, "ascii"),
            _fit(user.name, 8, encoding),
            user.card,
            _numeric_id(user.group_id) & 0xFF,
            0,
            _numeric_id(user.user_id),
        )
    return USER72.pack(
        user.uid,
        user.privilege,
        _fit(user.password, 8, "ascii"),
        _fit(user.name, 24, encoding),
        user.card,
        1,
        _fit(user.group_id, 7, "ascii"),
        _fit(user.user_id, 24, "ascii"),
    )


def decode_user(raw: bytes, encoding: str) -> User:
    """Decode a USER_WRQ record of 28 or 72 bytes; anything else raises ``ValueError``.

    zkteco-js writes the role as u16 and the card as u16 (§10.3); reading the same offsets
    tolerates both without special cases.
    """
    if len(raw) == 28:
        uid, priv, pwd, name, card, group, _tz, user_id = USER28.unpack(raw)
        return User(
            uid=uid,
            user_id=str(user_id),
            name=_cstr(name, encoding),
            privilege=priv,
            password=_cstr(pwd, "ascii"),
            card=card,
            group_id=str(group) if group else "",
        )
    if len(raw) == 72:
        uid, priv, pwd, name, card, _g, group_id, user_id = USER72.unpack(raw)
        return User(
            uid=uid,
            user_id=_cstr(user_id, "ascii"),
            name=_cstr(name, encoding),
            privilege=priv,
            password=_cstr(pwd, "ascii"),
            card=card,
            group_id=_cstr(group_id, "ascii"),
        )
    raise ValueError(f"user record of {len(raw)} bytes")


ATT8 = struct.Struct("<HBIB")
ATT16 = struct.Struct("<IIBB2xI")
ATT40 = struct.Struct("<H24sBIBI4s")
_ATT40_TRAILER = b"\xff\x00\x00\x00"


def encode_punch(punch: Punch, size: int, uid: int) -> bytes:
    """Encode an attendance record of 8, 16 or 40 bytes (§10.4)."""
    t = encode_time(punch.timestamp)
    if size == 8:
        return ATT8.pack(uid & 0xFFFF, punch.status, t, punch.punch)
    if size == 16:
        return ATT16.pack(_numeric_id(punch.user_id), t, punch.status, punch.punch, punch.workcode)
    return ATT40.pack(
        uid & 0xFFFF,
        punch.user_id.encode("ascii", errors="replace")[:24],
        punch.status,
        t,
        punch.punch,
        punch.workcode,
        _ATT40_TRAILER,
    )


def decode_punch40(raw: bytes) -> tuple[int, Punch]:
    """Decode a 40-byte record into (uid, punch); used by tests and capture checks."""
    uid, user_id, status, t, state, workcode, _ = ATT40.unpack(raw)
    return uid, Punch(_cstr(user_id, "ascii"), decode_time(t), status, state, workcode)


def encode_template_entry(t: Template) -> bytes:
    """Encode one entry of the all-templates data set (§10.5)."""
    return struct.pack("<HHBB", len(t.template) + 6, t.uid, t.fid, t.valid) + t.template


def decode_template_entries(data: bytes) -> list[Template]:
    """Decode concatenated template entries (without the u32 total prefix)."""
    out: list[Template] = []
    pos = 0
    while pos + 6 <= len(data):
        size, uid, fid, valid = struct.unpack_from("<HHBB", data, pos)
        if size < 6 or pos + size > len(data):
            raise ValueError("template entry overruns the data")
        out.append(Template(uid, fid, valid, bytes(data[pos + 6 : pos + size])))
        pos += size
    return out


def encode_event(punch: Punch, size: int) -> bytes:
    """Encode an EF_ATTLOG realtime payload of 12 (B&W) or 32 (TFT) bytes (§12)."""
    tail = bytes((punch.status & 0xFF, punch.punch & 0xFF)) + encode_event_time(punch.timestamp)
    if size == 12:
        return struct.pack("<I", _numeric_id(punch.user_id)) + tail
    return punch.user_id.encode("ascii", errors="replace")[:24].ljust(24, b"\x00") + tail


# --- buffered reads (§11) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BufferRequest:
    """A decoded 1503 payload: which data set the client wants."""

    command: int
    fct: int
    ext: int


def decode_buffer_request(payload: bytes) -> BufferRequest:
    """Decode ``i8 1, i16 command, i32 fct, i32 ext`` (§11.1); short payloads raise."""
    if len(payload) < 3:
        raise ValueError("1503 payload too short")
    padded = payload[:11].ljust(11, b"\x00")
    _one, command, fct, ext = struct.unpack("<bHiI", padded)
    return BufferRequest(command, fct, ext)


def encode_buffer_ready(size: int, free: int = 0) -> bytes:
    """The 13-byte ACK_OK payload announcing a buffered data set of ``size`` bytes (§11.2b)."""
    return struct.pack("<BIII", 0, size, size, free)


def encode_prepare_data(size: int, max_packet: int) -> bytes:
    """The exactly-8-byte PREPARE_DATA payload (zkteco-js counts it, §11.3)."""
    return struct.pack("<II", size, max_packet)


# --- free sizes (§9) ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sizes:
    """Counts and capacities reported by GET_FREE_SIZES."""

    users: int
    fingers: int
    records: int
    users_cap: int
    fingers_cap: int
    records_cap: int
    admins: int = 0
    passwords: int = 0
    oplog: int = 0
    faces: int | None = None
    faces_cap: int = 0


def encode_sizes(s: Sizes) -> bytes:
    """Encode the 80-byte (or 92-byte with faces) GET_FREE_SIZES payload."""
    fields = [0] * 20
    fields[4] = s.users
    fields[6] = s.fingers
    fields[8] = s.records
    fields[10] = s.oplog
    fields[12] = s.admins
    fields[13] = s.passwords
    fields[14] = s.fingers_cap
    fields[15] = s.users_cap
    fields[16] = s.records_cap
    fields[17] = max(s.fingers_cap - s.fingers, 0)
    fields[18] = max(s.users_cap - s.users, 0)
    fields[19] = max(s.records_cap - s.records, 0)
    out = struct.pack("<20i", *fields)
    if s.faces is not None:
        out += struct.pack("<3i", s.faces, 0, s.faces_cap)
    return out


def decode_sizes(payload: bytes) -> Sizes:
    """Decode a GET_FREE_SIZES payload (used on the capture vectors)."""
    f = struct.unpack_from("<20i", payload)
    faces: int | None = None
    faces_cap = 0
    if len(payload) >= 92:
        faces, _, faces_cap = struct.unpack_from("<3i", payload, 80)
    return Sizes(
        users=f[4],
        fingers=f[6],
        records=f[8],
        users_cap=f[15],
        fingers_cap=f[14],
        records_cap=f[16],
        admins=f[12],
        passwords=f[13],
        oplog=f[10],
        faces=faces,
        faces_cap=faces_cap,
    )


# --- bulk template save (§10.6) -------------------------------------------------------------


def decode_bulk_save(
    buf: bytes, user_size: int, encoding: str
) -> tuple[list[User], list[Template]]:
    """Decode a SAVE_USERTEMPS (110) upload: users, finger table, templates.

    The user entries are 29 or 73 bytes (a 0x02 marker + a record); the device's own size is
    preferred when the section length fits both.
    """
    if len(buf) < 12:
        raise ValueError("bulk buffer shorter than its 12-byte header")
    ulen, tlen, flen = struct.unpack_from("<III", buf)
    users_raw = buf[12 : 12 + ulen]
    table = buf[12 + ulen : 12 + ulen + tlen]
    fingers = buf[12 + ulen + tlen : 12 + ulen + tlen + flen]
    if len(users_raw) != ulen or len(table) != tlen or len(fingers) != flen or tlen % 8:
        raise ValueError("bulk buffer sections do not match their lengths")
    entry = user_size + 1
    if ulen % entry:
        entry = 73 if ulen % 73 == 0 else 29
    if ulen % entry:
        raise ValueError("bulk user section has a partial record")
    users = [decode_user(users_raw[i + 1 : i + entry], encoding) for i in range(0, ulen, entry)]
    templates: list[Template] = []
    for i in range(0, tlen, 8):
        _kind, uid, flag, offset = struct.unpack_from("<BHBI", table, i)
        if offset + 2 > flen:
            raise ValueError("finger table points outside the template section")
        (size,) = struct.unpack_from("<H", fingers, offset)
        tmpl = fingers[offset + 2 : offset + 2 + size]
        if len(tmpl) != size:
            raise ValueError("template overruns the template section")
        templates.append(Template(uid, flag & 0x0F, 1, bytes(tmpl)))
    return users, templates
