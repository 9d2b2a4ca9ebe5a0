# SPDX-License-Identifier: GPL-2.0-or-later
"""The binary protocol's packed local time (zk-binary-protocol.md §10.1), in one place.

Used by the simulator (which plays the terminal) and by the pyzk adapter (which reads its
records); it imports nothing of pyzk. Years 2000-2099, no zone: the terminal's wall clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def encode_time(t: datetime) -> int:
    """Encode a naive device-local time."""
    return (
        ((t.year % 100) * 12 * 31 + (t.month - 1) * 31 + (t.day - 1)) * 86400
        + (t.hour * 60 + t.minute) * 60
        + t.second
    )


def _fields(value: int) -> tuple[int, int, int, int, int, int]:
    value, second = divmod(value, 60)
    value, minute = divmod(value, 60)
    value, hour = divmod(value, 24)
    value, day = divmod(value, 31)
    value, month = divmod(value, 12)
    return value + 2000, month + 1, day + 1, hour, minute, second


def decode_time(value: int) -> datetime:
    """Decode; raise ``ValueError`` for a value that names no date (e.g. 31 February)."""
    return datetime(*_fields(value))


def decode_time_lenient(value: int) -> tuple[datetime, bool]:
    """Decode, and say whether it was a real date. A day past the month's end rolls forward
    into the next month, so a caller can quarantine the record with a stable key for it."""
    year, month, day, hour, minute, second = _fields(value)
    try:
        return datetime(year, month, day, hour, minute, second), True
    except ValueError:
        first = datetime(year, month, 1, hour, minute, second)
        return first + timedelta(days=day - 1), False
