# SPDX-License-Identifier: GPL-2.0-or-later
"""Attendance record layouts of the binary protocol, decoded without pyzk's record parser.

pyzk 0.9 picks a layout from ``total / records`` as a float, falls back to a 40-byte stride for
anything else (garbage for 49-byte SpeedFace records or a count that moved mid-read), and looks
every 8- and 16-byte record's user up with a linear scan (quadratic on big logs). We read the
raw buffer through pyzk and decode it here instead (zk-binary-protocol.md §10.1, §10.4).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from terminals.base import (
    DevicePunch,
    DeviceTemplate,
    DeviceUser,
    UnsupportedRecordFormatError,
)
from terminals.zktime import decode_time_lenient

RECORD_SIZES = (40, 16, 8)

_R8 = struct.Struct("<HB4sB")
_R16 = struct.Struct("<I4sBB2sI")
_R40 = struct.Struct("<H24sB4sB8s")


def record_size(total: int, count: int, hint: int | None = None) -> int:
    """Which layout a buffer of ``total`` bytes holding ``count`` records uses."""
    if count <= 0 or total <= 0:
        return hint or 0
    if total % count == 0 and total // count in RECORD_SIZES:
        return total // count
    # The count read before the transfer may be stale (a punch arrived meanwhile): trust the
    # layout the terminal used before, if the buffer is a whole number of such records.
    if hint in RECORD_SIZES and total % hint == 0:
        return hint
    raise UnsupportedRecordFormatError(
        f"attendance buffer of {total} bytes for {count} records matches no known layout"
    )


def decode_punches(data: bytes, size: int, pins_by_uid: Mapping[int, str]) -> list[DevicePunch]:
    """Decode ``data`` (records only, no length prefix) with the ``size``-byte layout."""
    if size not in RECORD_SIZES or len(data) % size:
        raise UnsupportedRecordFormatError(
            f"{len(data)} bytes are not a whole number of {size}-byte records"
        )
    punches: list[DevicePunch] = []
    for offset in range(0, len(data), size):
        raw = data[offset : offset + size]
        if size == 8:
            uid, verify, packed, state = _R8.unpack(raw)
            pin = pins_by_uid.get(uid, str(uid))
            work_code = 0
        elif size == 16:
            user_id, packed, verify, state, _reserved, work_code = _R16.unpack(raw)
            pin = str(user_id)
        else:
            _uid, user_id_raw, verify, packed, state, _trailer = _R40.unpack(raw)
            pin = user_id_raw.split(b"\x00", 1)[0].decode("ascii", errors="replace")
            work_code = 0
        when, valid = decode_time_lenient(int.from_bytes(packed, "little"))
        punches.append(DevicePunch(pin, when, verify, state, work_code, valid))
    return punches


_U28 = struct.Struct("<HB5s8sIxBhI")
_U72 = struct.Struct("<HB8s24sIx7sx24s")
USER_SIZES = (72, 28)


def _text(raw: bytes, encoding: str) -> str:
    return raw.split(b"\x00", 1)[0].decode(encoding, errors="replace").strip()


def user_record_size(total: int, count: int, hint: int | None = None) -> int:
    if count > 0 and total % count == 0 and total // count in USER_SIZES:
        return total // count
    if hint in USER_SIZES and total % hint == 0:
        return hint
    raise UnsupportedRecordFormatError(
        f"user buffer of {total} bytes for {count} users matches no known layout"
    )


def decode_users(data: bytes, size: int, encoding: str) -> list[DeviceUser]:
    """Users in the 28-byte (B&W) or 72-byte (TFT) layout (§10.2, §10.3)."""
    if size not in USER_SIZES or len(data) % size:
        raise UnsupportedRecordFormatError(
            f"{len(data)} bytes are not a whole number of {size}-byte users"
        )
    users: list[DeviceUser] = []
    for offset in range(0, len(data), size):
        raw = data[offset : offset + size]
        if size == 28:
            uid, privilege, password, name, card, group, _tz, user_id = _U28.unpack(raw)
            pin, group_id = str(user_id), str(group)
        else:
            uid, privilege, password, name, card, group_raw, user_id_raw = _U72.unpack(raw)
            pin = _text(user_id_raw, "ascii")
            group_id = _text(group_raw, "ascii")
        users.append(
            DeviceUser(
                uid=uid,
                pin=pin,
                name=_text(name, encoding),
                privilege=privilege,
                card=card,
                group_id=group_id,
                password=_text(password, encoding),
            )
        )
    return users


_TEMPLATE_HEAD = struct.Struct("<HHBB")


def decode_templates(data: bytes) -> list[DeviceTemplate]:
    """Fingerprint template entries: u16 entry size (template + 6), uid, finger, flag (§10.5)."""
    out: list[DeviceTemplate] = []
    offset = 0
    while offset + _TEMPLATE_HEAD.size <= len(data):
        entry_size, uid, finger, flag = _TEMPLATE_HEAD.unpack_from(data, offset)
        if entry_size < _TEMPLATE_HEAD.size or offset + entry_size > len(data):
            raise UnsupportedRecordFormatError(
                f"template entry at byte {offset} claims {entry_size} bytes"
            )
        template = data[offset + _TEMPLATE_HEAD.size : offset + entry_size]
        out.append(DeviceTemplate(uid=uid, finger_index=finger, flag=flag, template=template))
        offset += entry_size
    if offset != len(data):
        raise UnsupportedRecordFormatError("template buffer ends inside an entry")
    return out
