# SPDX-License-Identifier: GPL-2.0-or-later
"""What the rest of Rollcall knows of a terminal: a Protocol, plain data and one error tree.

Only ``terminals/zk/client.py`` talks pyzk; the sync engine, the worker and the web UI see
these types and nothing else, so a second driver (or the ADMS push side) fits the same shape.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self


class TerminalError(Exception):
    """A terminal could not do what was asked. Messages name the terminal, never a person."""


class TerminalUnreachableError(TerminalError):
    """No answer: wrong address, terminal off, network down, or a timeout mid-transfer."""


class TerminalAuthError(TerminalError):
    """The terminal refused the comm key."""


class TerminalProtocolError(TerminalError):
    """The terminal answered something we cannot trust (desync, bad packet, refused command)."""


class UnsupportedRecordFormatError(TerminalProtocolError):
    """Records of a size no known layout has: refuse the batch rather than store garbage."""


class UnstorableUserError(TerminalError):
    """This model cannot hold the user as given (a PIN that is not a number on a
    black-and-white model, a card number too large): retrying cannot help."""


class TerminalIdentityError(TerminalError):
    """A different serial number answered at a known terminal's address."""

    def __init__(self, message: str, *, expected: str, found: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.found = found


class Transport(enum.StrEnum):
    TCP = "tcp"
    UDP = "udp"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """How to reach a terminal over the binary protocol."""

    host: str
    port: int = 4370
    transport: Transport = Transport.TCP
    comm_key: int = field(default=0, repr=False)
    encoding: str = "utf-8"
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    serial_number: str
    device_name: str | None
    platform: str | None
    firmware: str | None
    fp_version: str | None
    face_version: str | None
    mac: str | None
    pin_width: int | None


@dataclass(frozen=True, slots=True)
class DeviceSizes:
    users: int
    fingers: int
    records: int
    faces: int
    users_capacity: int
    fingers_capacity: int
    records_capacity: int

    @property
    def records_full(self) -> bool:
        return self.records_capacity > 0 and self.records >= self.records_capacity


@dataclass(frozen=True, slots=True)
class DeviceUser:
    uid: int  # the terminal's internal slot number
    pin: str  # the printed user id people type and see ("user_id" in pyzk)
    name: str
    privilege: int
    card: int
    group_id: str
    password: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class DevicePunch:
    pin: str
    device_time: datetime  # naive: the terminal's own wall clock
    verify_type: int
    punch_state: int
    work_code: int = 0
    # False when the terminal's packed date named no calendar day (31 February): the
    # time is then rolled forward to a real one and the punch is quarantined, not dropped.
    time_valid: bool = True


@dataclass(frozen=True, slots=True)
class DeviceTemplate:
    uid: int
    finger_index: int
    flag: int
    template: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class LiveEvent:
    pin: str
    device_time: datetime
    verify_type: int
    punch_state: int


class TerminalClient(Protocol):
    """One session with one terminal; use as a context manager (connect, then disconnect)."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def info(self) -> DeviceInfo: ...

    def sizes(self) -> DeviceSizes: ...

    def get_time(self) -> datetime: ...

    def set_time(self, value: datetime) -> None: ...

    def disable(self) -> None: ...

    def enable(self) -> None: ...

    def users(self) -> list[DeviceUser]: ...

    def punches(
        self,
        users: Sequence[DeviceUser] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[DevicePunch]:
        """The whole log; ``progress(records_read, total)`` is called while it arrives."""

    def templates(self) -> list[DeviceTemplate]: ...

    def clear_punches(self) -> None: ...

    def template(self, uid: int, finger: int) -> DeviceTemplate | None:
        """One template, or None when the slot is empty."""

    def put_user(self, user: DeviceUser, templates: Sequence[DeviceTemplate] | None = None) -> None:
        """Write a user record; with ``templates``, the record and those fingers together."""

    def delete_user(self, uid: int) -> None:
        """Remove a user and every template of theirs (absent already: no error)."""

    def delete_template(self, uid: int, finger: int) -> bool:
        """Remove one template; True when the terminal confirms the slot is now empty."""

    def enrol(self, uid: int, pin: str, finger: int) -> bool:
        """Enrol ``finger`` at the terminal's sensor for the user; True when it took."""

    def live_events(self, poll_s: float = 1.0) -> Iterator[LiveEvent | None]: ...

    def stop_live(self) -> None:
        """Ask a running ``live_events`` to end after its current wait."""
