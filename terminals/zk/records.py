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


def fit_text(text: str, limit: int, encoding: str) -> str:
    """``text`` cut to at most ``limit`` encoded bytes on a character boundary (a byte cut
    inside a GBK or UTF-8 character shows as garbage on the terminal's screen)."""
    out = text
    while len(out.encode(encoding, errors="ignore")) > limit:
        out = out[:-1]
    return out


def name_bytes(user_size: int) -> int:
    """How many name bytes a user record of this size holds (§10.2, §10.3)."""
    return 8 if user_size == 28 else 24


def device_card(card_number: str | None) -> int | None:
    """A card number as terminals store it (u32); 0 for none, None if it cannot be held."""
    text = (card_number or "").strip()
    if not text:
        return 0
    if not text.isdigit() or int(text) >= 2**32:
        return None
    return int(text)


def fit_user(user: DeviceUser, size: int, encoding: str) -> DeviceUser:
    """``user`` as the ``size``-byte layout can hold it, or ValueError saying what cannot fit.

    Names and passwords are shortened (the screen shows less anyway); a PIN, a card number or
    a privilege the layout cannot carry is refused, because shortening them changes who it is.
    """
    if size not in USER_SIZES:
        raise ValueError(f"unknown user record size {size}")
    if not 0 < user.uid < 65536:
        raise ValueError("the terminal slot number is out of range")
    if user.privilege not in (0, 14):
        raise ValueError("only privileges 0 (user) and 14 (administrator) can be written")
    if not 0 <= user.card < 2**32:
        raise ValueError("the card number does not fit in 32 bits")
    pin = user.pin
    if size == 28:
        if not pin.isascii() or not pin.isdigit() or int(pin) >= 2**32:
            raise ValueError("this model holds numeric PINs only (up to 4294967295)")
        group = user.group_id or "0"
        if not group.isdigit() or int(group) > 255:
            raise ValueError("this model holds group numbers 0 to 255 only")
        password_limit = 5
    else:
        if not pin or not pin.isascii() or not pin.isprintable() or len(pin) > 24:
            raise ValueError("a PIN is 1 to 24 printable ASCII characters")
        group = user.group_id
        if len(group.encode("ascii", errors="ignore")) > 7:
            raise ValueError("a group id is at most 7 characters")
        password_limit = 8
    password = user.password
    if len(password.encode(encoding, errors="ignore")) > password_limit:
        raise ValueError(f"a terminal password is at most {password_limit} characters")
    return DeviceUser(
        uid=user.uid,
        pin=pin,
        name=fit_text(user.name, name_bytes(size), encoding),
        privilege=user.privilege,
        card=user.card,
        group_id=group,
        password=password,
    )


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
