# SPDX-License-Identifier: GPL-2.0-or-later
"""The pyzk adapter: the only module in Rollcall that imports ``zk``.

It connects with the terminal's own transport, comm key and timeout, never pings (pyzk
shells out to ``ping`` unless told not to), maps pyzk's exceptions to ``TerminalError``s,
decodes record buffers itself (``records.py``) and returns our dataclasses. Every pyzk 0.9
workaround lives here, each with the reason (zk-binary-protocol.md §16).
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

from zk import ZK, const
from zk.exception import ZKError, ZKErrorResponse, ZKNetworkError
from zk.finger import Finger
from zk.user import User

from terminals.base import (
    DeviceInfo,
    DevicePunch,
    DeviceSizes,
    DeviceTemplate,
    DeviceUser,
    Endpoint,
    LiveEvent,
    TerminalAuthError,
    TerminalError,
    TerminalProtocolError,
    TerminalUnreachableError,
    Transport,
    UnstorableUserError,
)
from terminals.zk import records

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _checksum_as_pyzk(_zk: object, packet: Sequence[int] | bytes) -> bytes:
    """pyzk 0.9's packet checksum, bit for bit, without its per-byte Python loop.

    pyzk sums the packet two bytes at a time in Python, slicing the tuple each step: for a
    1 KB upload chunk that is most of the CPU a template write costs, and with the GIL it
    caps how many terminals one worker writes to at once. Same result (§4, pyzk's quirk
    included: 65534 - sum, the sum folded into 1..65535): equivalence is tested against
    pyzk's own function.
    """
    data = bytes(packet)
    words = len(data) // 2
    total = sum(struct.unpack_from(f"<{words}H", data)) if words else 0
    if len(data) % 2:
        total += data[-1]
    folded = 0 if total == 0 else (total - 1) % 0xFFFF + 1
    return struct.pack("<H", 0xFFFE - folded if folded < 0xFFFF else 0xFFFE)


PYZK_CHECKSUM = getattr(ZK, "_ZK__create_checksum", None)
if PYZK_CHECKSUM is not None:
    ZK._ZK__create_checksum = _checksum_as_pyzk  # pyzk's private method, same contract


# pyzk 0.9 packs user records for a template upload with ``User.encoding``, a class attribute
# every ``ZK()`` overwrites: two threads writing to a UTF-8 and a GBK terminal would garble
# each other's names. Set it and upload under this lock.
_USER_ENCODING_LOCK = threading.Lock()


class _EofGuard:
    """Wraps pyzk's socket so that a closed connection is an error, not an endless loop.

    pyzk 0.9 reads the rest of a chunk with ``while size > 0: recv(size)``; when the
    terminal drops the connection ``recv`` returns ``b""`` forever and the loop spins at full
    CPU with no timeout (a dead terminal would hang a worker thread for good).
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        # Set during a long read: told how many bytes arrived, for a live progress bar.
        self.on_bytes: Callable[[int], None] | None = None

    def recv(self, size: int, *flags: int) -> bytes:
        data = self._sock.recv(size, *flags)
        if not data and size > 0 and self._sock.type == socket.SOCK_STREAM:
            raise ConnectionResetError("the terminal closed the connection")
        if self.on_bytes is not None:
            self.on_bytes(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class ZkClient:
    """A session with one terminal over the binary protocol (``with ZkClient(ep) as c:``).

    ``user_size`` and ``record_size`` are the layouts this terminal used before (from its
    capabilities); they settle a buffer whose record count moved during the transfer.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        user_size: int | None = None,
        record_size: int | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.user_size = user_size
        self.record_size = record_size
        self._zk: Any = None
        self._disabled = False
        self._broken = False
        self._layout_unproven = False

    # ------------------------------------------------------------------ session
    def __enter__(self) -> Self:
        ep = self.endpoint
        self._zk = ZK(
            ep.host,
            port=ep.port,
            timeout=ep.timeout_s,
            password=ep.comm_key,
            force_udp=ep.transport is Transport.UDP,
            ommit_ping=True,  # pyzk would run the OS `ping`; a firewall may drop ICMP anyway
            encoding=ep.encoding,
        )
        # pyzk 0.9 opens a UDP socket in its constructor and replaces it in connect()
        # without closing it: close it now rather than leak a descriptor per sync.
        self._close_socket()
        try:
            self._call("connect", self._zk.connect)
        except TerminalError:
            self._close_socket()
            raise
        sock = getattr(self._zk, "_ZK__sock", None)
        if isinstance(sock, socket.socket):
            self._zk._ZK__sock = _EofGuard(sock)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._zk is None:
            return
        try:
            if not self._broken:
                if self._disabled:
                    # A terminal left disabled refuses every punch: re-enable on every path.
                    self.enable()
                self._call("disconnect", self._zk.disconnect)
        except TerminalError as err:
            logger.warning("terminal %s: clean disconnect failed: %s", self._where(), err)
        finally:
            self._close_socket()
            self._zk = None

    def _where(self) -> str:
        return f"{self.endpoint.host}:{self.endpoint.port}/{self.endpoint.transport}"

    def _close_socket(self) -> None:
        # pyzk has no way to drop a connection without sending EXIT, which a desynchronised
        # stream cannot carry; its socket is name-mangled private state.
        sock = getattr(self._zk, "_ZK__sock", None)
        if isinstance(sock, _EofGuard):
            sock = sock._sock
        if isinstance(sock, socket.socket):
            sock.close()

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._zk is None:
            raise TerminalError(f"{what}: not connected")
        if self._broken:
            raise TerminalProtocolError(f"{what}: connection to {self._where()} was lost")
        try:
            return fn(*args, **kwargs)
        except ZKErrorResponse as exc:
            if "Unauthenticated" in str(exc):
                raise TerminalAuthError(f"{self._where()} refused the comm key") from exc
            raise TerminalProtocolError(f"{what} refused by {self._where()}: {exc}") from exc
        except ZKNetworkError as exc:
            self._broken = True
            text = str(exc)
            if "TCP packet invalid" in text:
                # The stream is desynchronised; every later command would fail (§18.3).
                raise TerminalProtocolError(
                    f"{what}: stream from {self._where()} desynchronised"
                ) from exc
            raise TerminalUnreachableError(f"{what}: {self._where()}: {text}") from exc
        except (TimeoutError, ConnectionError, OSError) as exc:
            self._broken = True
            raise TerminalUnreachableError(f"{what}: {self._where()}: {exc}") from exc
        except (
            ZKError,
            struct.error,
            TypeError,
            ValueError,
            IndexError,
            UnboundLocalError,
            KeyError,
        ) as exc:
            # pyzk's parsers fail this way on replies they do not expect.
            self._broken = True
            raise TerminalProtocolError(
                f"{what}: unexpected reply from {self._where()}: {type(exc).__name__}"
            ) from exc

    # ------------------------------------------------------------------ reads
    def info(self) -> DeviceInfo:
        zk = self._zk
        serial = self._call("serial", zk.get_serialnumber)
        if not serial:
            raise TerminalProtocolError(f"{self._where()} reports no serial number")

        def optional(what: str, fn: Callable[[], Any]) -> Any:
            # Older firmware refuses some option reads; they are descriptive only.
            try:
                value = self._call(what, fn)
            except TerminalProtocolError:
                if self._broken:
                    raise
                return None
            return value or None

        pin_width = optional("pin width", zk.get_pin_width)
        return DeviceInfo(
            serial_number=str(serial),
            device_name=optional("device name", zk.get_device_name),
            platform=optional("platform", zk.get_platform),
            firmware=optional("firmware", zk.get_firmware_version),
            fp_version=_str_or_none(optional("fp version", zk.get_fp_version)),
            face_version=_str_or_none(optional("face version", zk.get_face_version)),
            mac=optional("mac", zk.get_mac),
            pin_width=int(pin_width) if pin_width else None,
        )

    def sizes(self) -> DeviceSizes:
        zk = self._zk
        self._call("sizes", zk.read_sizes)
        return DeviceSizes(
            users=int(zk.users),
            fingers=int(zk.fingers),
            records=int(zk.records),
            faces=int(zk.faces),
            users_capacity=int(zk.users_cap),
            fingers_capacity=int(zk.fingers_cap),
            records_capacity=int(zk.rec_cap),
        )

    def get_time(self) -> datetime:
        value = self._call("get time", self._zk.get_time)
        if not isinstance(value, datetime):
            raise TerminalProtocolError(f"{self._where()} sent no time")
        return value

    def set_time(self, value: datetime) -> None:
        if value.tzinfo is not None:
            raise ValueError("a terminal clock takes its local wall time (naive)")
        self._call("set time", self._zk.set_time, value)

    def disable(self) -> None:
        self._call("disable", self._zk.disable_device)
        self._disabled = True

    def enable(self) -> None:
        self._call("enable", self._zk.enable_device)
        self._disabled = False

    def _buffer(self, what: str, command: int, fct: int = 0) -> bytes:
        data, _size = self._call(what, self._zk.read_with_buffer, command, fct)
        if not isinstance(data, bytes):
            raise TerminalProtocolError(f"{what}: no data from {self._where()}")
        if len(data) < 4:
            return b""
        total = int.from_bytes(data[:4], "little")
        body = data[4:]
        if total != len(body):
            raise TerminalProtocolError(
                f"{what}: {self._where()} announced {total} bytes and sent {len(body)}"
            )
        return body

    def users(self) -> list[DeviceUser]:
        count = self.sizes().users
        if count == 0:
            return []
        body = self._buffer("users", const.CMD_USERTEMP_RRQ, const.FCT_USER)
        if not body:
            return []
        size = records.user_record_size(len(body), count, self.user_size)
        self.user_size = size
        return records.decode_users(body, size, self.endpoint.encoding)

    def punches(
        self,
        users: Sequence[DeviceUser] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[DevicePunch]:
        """The whole attendance log (the protocol has no date filter)."""
        count = self.sizes().records
        if count == 0:
            return []
        guard = getattr(self._zk, "_ZK__sock", None)
        if progress is not None and isinstance(guard, _EofGuard):
            per_record = self.record_size or 40
            received = 0
            reported = 0

            def on_bytes(n: int) -> None:
                nonlocal received, reported
                received += n
                done = min(count, received // per_record)
                if done - reported >= 1000 or done == count:
                    reported = done
                    progress(done, count)

            guard.on_bytes = on_bytes
        try:
            body = self._buffer("attendance", const.CMD_ATTLOG_RRQ)
        finally:
            if isinstance(guard, _EofGuard):
                guard.on_bytes = None
        if not body:
            return []
        size = records.record_size(len(body), count, self.record_size)
        self.record_size = size
        pins: dict[int, str] = {}
        if size == 8:  # these records carry only the slot number: map it through the users
            pins = {u.uid: u.pin for u in (users if users is not None else self.users())}
        return records.decode_punches(body, size, pins)

    def templates(self) -> list[DeviceTemplate]:
        if self.sizes().fingers == 0:
            return []
        body = self._buffer("templates", const.CMD_DB_RRQ, const.FCT_FINGERTMP)
        return records.decode_templates(body)

    # ------------------------------------------------------------------ writes
    def clear_punches(self) -> None:
        self._call("clear attendance", self._zk.clear_attendance)

    def _layout(self) -> int:
        """The terminal's user record size, learned from a users read if not known yet.

        pyzk 0.9 assumes 72-byte users on every TCP terminal (and 28 on UDP): a black-and-
        white TCP model would get records it cannot parse. Tell pyzk what the terminal uses.
        """
        if self.user_size is None:
            self.users()
        size = self.user_size
        if size is None:
            # An empty terminal shows no record to measure. TFT platforms (``*_TFT``) use
            # 72-byte users, black-and-white ones 28 (§8); the first write is read back.
            platform = ""
            try:
                platform = str(self._call("platform", self._zk.get_platform) or "")
            except TerminalProtocolError:
                if self._broken:
                    raise
            size = 72 if "TFT" in platform.upper() else 28
            self._layout_unproven = True
        self._zk.user_packet_size = size
        return size

    def _prove_layout(self, pin: str) -> None:
        """After the first write to an empty terminal, read it back: a wrong layout guess
        would leave a user nobody can match."""
        if not self._layout_unproven:
            return
        self._layout_unproven = False
        self.user_size = None
        if pin not in {u.pin for u in self.users()}:
            raise TerminalProtocolError(
                f"{self._where()} did not keep the user as written (unknown record layout)"
            )

    def _pyzk_user(self, user: DeviceUser) -> User:
        size = self._layout()
        try:
            fields = records.fit_user(user, size, self.endpoint.encoding)
        except ValueError as exc:
            raise UnstorableUserError(f"{self._where()}: {exc}") from None
        return User(
            fields.uid,
            fields.name,
            fields.privilege,
            password=fields.password,
            group_id=fields.group_id,
            user_id=fields.pin,
            card=fields.card,
        )

    def put_user(self, user: DeviceUser, templates: Sequence[DeviceTemplate] | None = None) -> None:
        """Write ``user``; with ``templates``, in one upload with those fingers (CMD 110)."""
        pz = self._pyzk_user(user)
        if not templates:
            self._call(
                "set user",
                self._zk.set_user,
                uid=pz.uid,
                name=pz.name,
                privilege=pz.privilege,
                password=pz.password,
                group_id=pz.group_id,
                user_id=pz.user_id,
                card=pz.card,
            )
        else:
            fingers = [Finger(pz.uid, t.finger_index, t.flag, t.template) for t in templates]
            with _USER_ENCODING_LOCK:
                User.encoding = self.endpoint.encoding
                self._call("save user and templates", self._zk.save_user_template, pz, fingers)
        self._prove_layout(user.pin)

    def delete_user(self, uid: int) -> None:
        if uid <= 0:
            raise ValueError("terminal slot numbers start at 1")
        self._call("delete user", self._zk.delete_user, uid=uid)

    def template(self, uid: int, finger: int) -> DeviceTemplate | None:
        found = self._call("read template", self._zk.get_user_template, uid, finger)
        if not found:
            return None
        return DeviceTemplate(uid=uid, finger_index=finger, flag=1, template=bytes(found.template))

    def delete_template(self, uid: int, finger: int) -> bool:
        """Delete one finger and read the slot back: True only when it is confirmed empty."""
        if uid <= 0:
            raise ValueError("terminal slot numbers start at 1")
        # DELETE_USERTEMP by slot: pyzk's by-PIN variant crashes on Python 3 (§16).
        self._call("delete template", self._zk.delete_user_template, uid=uid, temp_id=finger)
        return self.template(uid, finger) is None

    def enrol(self, uid: int, pin: str, finger: int) -> bool:
        """Start enrolment at the sensor; blocks while the person presents the finger."""
        if not 0 <= finger < 10:
            raise ValueError("fingers are numbered 0 to 9")
        done = self._call("enrol", self._zk.enroll_user, uid=uid, temp_id=finger, user_id=pin)
        return bool(done)

    def live_events(self, poll_s: float = 1.0) -> Iterator[LiveEvent | None]:
        """Punches as they happen; ``None`` each ``poll_s`` without one (stop by closing)."""
        stream = self._call("live capture", self._zk.live_capture, max(1, int(poll_s)))
        while True:
            try:
                item = next(stream)
            except StopIteration:
                return
            except (UnboundLocalError, ValueError, struct.error) as exc:
                # pyzk 0.9 crashes on 14/37/40-byte events and non-numeric unknown ids (#86):
                # the caller falls back to polling.
                self._broken = True
                raise TerminalProtocolError(
                    f"live capture from {self._where()} sent an event pyzk cannot read"
                ) from exc
            except (TimeoutError, OSError) as exc:
                self._broken = True
                raise TerminalUnreachableError(f"live capture: {self._where()}: {exc}") from exc
            if item is None:
                yield None
                continue
            yield LiveEvent(
                pin=str(item.user_id),
                device_time=item.timestamp,
                verify_type=int(item.status),
                punch_state=int(item.punch),
            )

    def stop_live(self) -> None:
        if self._zk is not None:
            self._zk.end_live_capture = True


def _str_or_none(value: Any) -> str | None:
    return None if value in (None, "", 0) else str(value)


@contextmanager
def connect(endpoint: Endpoint, **kwargs: Any) -> Iterator[ZkClient]:
    with ZkClient(endpoint, **kwargs) as client:
        yield client
