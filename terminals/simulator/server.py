# SPDX-License-Identifier: GPL-2.0-or-later
"""Network serving: TCP and UDP on the same port per terminal, many terminals per process.

One asyncio loop in a background thread (``SimulatorRuntime``) serves every terminal, so 50-200
terminals cost one thread. A ``Session`` speaks the protocol for one TCP connection or one UDP
peer; the rules it follows are the reference's §14 checklist.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import secrets
import socket
import struct
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar, cast

from terminals.simulator.codec import (
    EF_ATTLOG,
    FCT_FINGERTMP,
    Cmd,
    Packet,
    Punch,
    Reply,
    TcpDeframer,
    Template,
    commkey_matches,
    decode_buffer_request,
    decode_bulk_save,
    decode_packet,
    decode_user,
    encode_buffer_ready,
    encode_event,
    encode_packet,
    encode_prepare_data,
    encode_sizes,
    frame_tcp,
)
from terminals.simulator.device import Device, DeviceFullError, fake_template, simulation_rng
from terminals.simulator.faults import DropPlan, Faults
from terminals.zktime import decode_time, encode_time

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A data set up to this size is answered to 1503 with one direct CMD_DATA, as real devices do
# for small sets (§11.2a); it still fits the 1024 bytes pyzk reads per UDP datagram.
DIRECT_MAX = 1016
UDP_DATA_MAX = 1024
REAL_FRAME = 1008
EVENT_ACK_WAIT = 3.0
UDP_IDLE = 300.0
TRANSPORTS = ("both", "tcp", "udp")


class SimulatorRuntime:
    """A background thread running the event loop every terminal is served from."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop; starts the thread on first use."""
        if self._loop is None:
            self.start()
        if self._loop is None:
            raise RuntimeError("the simulator loop did not start")
        return self._loop

    def start(self) -> None:
        """Start the loop thread (idempotent)."""
        if self._loop is not None:
            return
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="zk-simulator", daemon=True)
        self._thread.start()
        ready.wait()
        self._loop = loop

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the loop from another thread and return its result."""
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def stop(self) -> None:
        """Cancel what is left, stop the loop and join its thread."""
        loop = self._loop
        if loop is None:
            return

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        loop.close()
        self._loop = None
        self._thread = None


class _Link:
    """Where a session's packets go: framing, byte budget (drop faults), datagram loss."""

    def __init__(self, faults: Faults, udp: bool) -> None:
        self.faults = faults
        self.udp = udp
        self.closed = False
        self.budget: int | None = None
        self.reset = False

    def send(self, packet: bytes) -> None:
        """Send one header + payload; honour a byte budget by cutting the link mid-packet."""
        if self.closed:
            return
        data = packet if self.udp else frame_tcp(packet)
        if self.budget is not None:
            if len(data) >= self.budget:
                if not self.udp:
                    self._write(data[: self.budget])
                self.budget = 0
                self.cut()
                return
            self.budget -= len(data)
        if self.udp and self.faults.lose_this_datagram():
            return
        self._write(data)

    def _write(self, data: bytes) -> None:
        raise NotImplementedError

    def cut(self) -> None:
        """Drop the connection (TCP) or go silent (UDP)."""
        self.closed = True

    async def drain(self) -> None:
        """Wait until the transport can take more (TCP back-pressure)."""


class _TcpLink(_Link):
    def __init__(self, faults: Faults, writer: asyncio.StreamWriter) -> None:
        super().__init__(faults, udp=False)
        self.writer = writer

    def _write(self, data: bytes) -> None:
        self.writer.write(data)

    def cut(self) -> None:
        super().cut()
        sock = self.writer.get_extra_info("socket")
        if self.reset and sock is not None:
            # Linger 0: the close sends RST and drops whatever is still queued.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # close() flushes what was written first, so a client sees the partial packet.
        self.writer.close()

    async def drain(self) -> None:
        if not self.closed:
            with contextlib.suppress(ConnectionError):
                await self.writer.drain()


class _UdpLink(_Link):
    def __init__(
        self, faults: Faults, transport: asyncio.DatagramTransport, addr: tuple[str, int]
    ) -> None:
        super().__init__(faults, udp=True)
        self.transport = transport
        self.addr = addr

    def _write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.sendto(data, self.addr)


class Session:
    """The protocol state of one client (one TCP connection or one UDP peer)."""

    def __init__(self, terminal: SimulatedTerminal, link: _Link) -> None:
        self.terminal = terminal
        self.link = link
        self.session_id = 0
        self.connected = False
        self.authenticated = False
        self.buffer: bytes | None = None
        self.buffer_kind = ""
        self.upload = bytearray()
        self.chunks_served = 0
        self.drop: DropPlan | None = None
        self.finished = False
        self._events: asyncio.Queue[Punch] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._acked = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    @property
    def device(self) -> Device:
        """The terminal's current device (it may be replaced under a running session)."""
        return self.terminal.device

    def reply(self, code: int, req: Packet, payload: bytes = b"") -> None:
        """Answer ``req``: our session id, the request's reply id (§5)."""
        self.link.send(encode_packet(code, self.session_id, req.reply, payload))

    async def handle(self, req: Packet) -> None:
        """Answer one client packet; never raises (garbage must not crash the simulator)."""
        if not req.checksum_ok:
            logger.debug("checksum mismatch on command %d (accepted, §4)", req.command)
        if req.command == Reply.ACK_OK:
            # The client's ACK of a realtime event: never answered, or both sides ping-pong.
            self._acked.set()
            return
        faults = self.terminal.faults
        delay = faults.reply_delay()
        if delay:
            await asyncio.sleep(delay)
        try:
            await self._dispatch(req, faults)
        except (ValueError, struct.error, UnicodeError, IndexError) as exc:
            logger.debug("bad payload for command %d: %s", req.command, exc)
            self.reply(Reply.ACK_ERROR, req)
        except DeviceFullError:
            self.reply(Reply.ACK_ERROR, req)

    async def _dispatch(self, req: Packet, faults: Faults) -> None:
        cmd = req.command
        if cmd == Cmd.CONNECT:
            self._connect(req, faults)
            return
        if self.link.closed:
            return
        failure = faults.take_failure(cmd)
        if failure is not None:
            self.reply(failure, req)
            return
        if faults.busy and cmd != Cmd.EXIT:
            self.reply(Reply.ACK_ERROR, req)
            return
        if cmd == Cmd.AUTH:
            ok = self.connected and commkey_matches(
                req.payload, self.device.comm_key, self.session_id
            )
            self.authenticated = self.authenticated or ok
            self.reply(Reply.ACK_OK if ok else Reply.ACK_UNAUTH, req)
            return
        if not self.authenticated:
            self.reply(Reply.ACK_UNAUTH, req)
            if cmd == Cmd.EXIT:
                self.close()
            return
        handler = _HANDLERS.get(cmd)
        if handler is None:
            # Unknown commands (and pyzk's _clear_error ACK_ERROR/ACK_UNKNOWN probes) all get
            # an answer, or the client blocks until its timeout (§14 rule 4).
            self.reply(Reply.ACK_UNKNOWN, req)
            return
        await handler(self, req)

    def _connect(self, req: Packet, faults: Faults) -> None:
        if not self.session_id:
            self.session_id = secrets.randbelow(0xFFFE) + 1
        if self.link.udp and self.link.closed:
            # A UDP peer that was cut comes back with a fresh CONNECT.
            self.link.closed = False
            self.link.budget = None
        self.connected = True
        self.authenticated = self.device.comm_key == 0
        self.drop = faults.arm_drop()
        self.chunks_served = 0
        self.link.reset = self.drop is not None and self.drop.reset
        if self.drop is not None and self.drop.after_bytes is not None:
            self.link.budget = self.drop.after_bytes
        self.reply(Reply.ACK_OK if self.authenticated else Reply.ACK_UNAUTH, req)

    # --- realtime events --------------------------------------------------------------------

    def _on_punch(self, punch: Punch) -> None:
        """Device listener; may run in any thread."""
        queue = self._events
        if queue is not None:
            self._loop.call_soon_threadsafe(queue.put_nowait, punch)

    def start_events(self) -> None:
        """Begin pushing EF_ATTLOG events for punches stored from now on."""
        if self._events is not None:
            return
        self._events = asyncio.Queue()
        self._pump = self._loop.create_task(self._pump_events())
        self.device.add_listener(self._on_punch)

    def stop_events(self) -> None:
        """Stop pushing events (REG_EVENT 0, disconnect)."""
        self.device.remove_listener(self._on_punch)
        if self._pump is not None:
            self._pump.cancel()
        self._pump = None
        self._events = None

    async def _pump_events(self) -> None:
        """One event per packet, each waiting for the client's ACK (§12 rules)."""
        events = self._events
        if events is None:
            return
        size = self.device.profile.event_size
        while True:
            punch = await events.get()
            if self.device.user_by_id(punch.user_id) is None:
                continue  # pyzk crashes on an event for a user it cannot look up (§12)
            self._acked.clear()
            self.link.send(encode_packet(Cmd.REG_EVENT, EF_ATTLOG, 0, encode_event(punch, size)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._acked.wait(), EVENT_ACK_WAIT)

    def close(self) -> None:
        """End the session (EXIT, restart, server stop)."""
        self.finished = True
        self.stop_events()
        if not self.link.closed:
            self.link.cut()

    # --- data transfer ----------------------------------------------------------------------

    async def send_data(self, req: Packet, data: bytes, *, announce: bool) -> None:
        """Send ``data`` as PREPARE_DATA + DATA + ACK_OK, framed per transport and mode.

        The default TCP form is one DATA packet per chunk: pyzk 0.9 hangs on back-to-back
        1008-byte packets (§11.4). That real-device framing is an opt-in fault mode.
        """
        real = self.terminal.faults.real_framing and not self.link.udp
        gap = self.terminal.faults.packet_gap
        max_packet = UDP_DATA_MAX if self.link.udp else REAL_FRAME if real else len(data)

        async def pause() -> None:
            if gap:
                await self.link.drain()
                await asyncio.sleep(gap)

        if announce:
            self.reply(Cmd.PREPARE_DATA, req, encode_prepare_data(len(data), max_packet))
            await pause()
        if self.link.udp or real:
            step = UDP_DATA_MAX if self.link.udp else REAL_FRAME
            for seq, pos in enumerate(range(0, len(data), step)):
                session = seq if real else self.session_id
                part = data[pos : pos + step]
                self.link.send(encode_packet(Cmd.DATA, session & 0xFFFF, req.reply, part))
        else:
            self.reply(Cmd.DATA, req, data)
        await pause()
        self.reply(Reply.ACK_OK, req)
        await self.link.drain()


Handler = Any  # Callable[[Session, Packet], Awaitable[None]]; kept loose for the table below


async def _ack(s: Session, req: Packet) -> None:
    s.reply(Reply.ACK_OK, req)


async def _exit(s: Session, req: Packet) -> None:
    s.reply(Reply.ACK_OK, req)
    await s.link.drain()
    s.close()


async def _enable(s: Session, req: Packet) -> None:
    s.device.enabled = True
    s.reply(Reply.ACK_OK, req)


async def _disable(s: Session, req: Packet) -> None:
    # The optional u32 (seconds) is accepted and ignored: the device stays disabled until told.
    s.device.enabled = False
    s.reply(Reply.ACK_OK, req)


async def _restart(s: Session, req: Packet) -> None:
    # A reboot comes up enabled; the state is written before the ACK so nothing is lost.
    s.device.enabled = True
    s.terminal.save_state()
    s.reply(Reply.ACK_OK, req)
    await s.link.drain()
    s.close()


async def _version(s: Session, req: Packet) -> None:
    s.reply(Reply.ACK_OK, req, s.device.profile.firmware.encode("ascii") + b"\x00")


async def _options_read(s: Session, req: Packet) -> None:
    # pyzk sends the key with a NUL, zkteco-js without (§14 rule 8).
    key = req.payload.split(b"\x00", 1)[0].decode("ascii", errors="replace").strip()
    value = s.device.option(key)
    if value is None:
        s.reply(Reply.ACK_ERROR, req)
        return
    s.reply(Reply.ACK_OK, req, f"{key}={value}".encode("utf-8", errors="replace") + b"\x00")


async def _options_write(s: Session, req: Packet) -> None:
    text = req.payload.split(b"\x00", 1)[0].decode("ascii", errors="replace")
    key, sep, value = text.partition("=")
    ok = bool(sep) and s.device.set_option(key.strip(), value.strip())
    s.reply(Reply.ACK_OK if ok else Reply.ACK_ERROR, req)


async def _pin_width(s: Session, req: Packet) -> None:
    s.reply(Reply.ACK_OK, req, bytes((s.device.profile.pin_width,)))


async def _free_sizes(s: Session, req: Packet) -> None:
    s.reply(Reply.ACK_OK, req, encode_sizes(s.device.sizes()))


async def _get_time(s: Session, req: Packet) -> None:
    s.reply(Reply.ACK_OK, req, struct.pack("<I", encode_time(s.device.clock.now())))


async def _set_time(s: Session, req: Packet) -> None:
    # 4 bytes from pyzk, 32 from zkteco-js with the time first (§14 rule 8).
    (value,) = struct.unpack_from("<I", req.payload)
    s.device.clock.set(decode_time(value))
    s.reply(Reply.ACK_OK, req)


async def _user_write(s: Session, req: Packet) -> None:
    payload = req.payload
    size = 72 if len(payload) >= 72 else 28 if len(payload) >= 28 else 0
    if not size:
        raise ValueError("user record too short")
    user = decode_user(payload[:size], s.device.profile.encoding)
    s.device.set_user(user)
    s.terminal.save_state()
    s.reply(Reply.ACK_OK, req)


async def _delete_user(s: Session, req: Packet) -> None:
    (uid,) = struct.unpack_from("<H", req.payload)
    ok = s.device.delete_user(uid)
    s.terminal.save_state()
    s.reply(Reply.ACK_OK if ok else Reply.ACK_ERROR, req)


async def _delete_template(s: Session, req: Packet) -> None:
    uid, fid = struct.unpack_from("<HB", req.payload.ljust(3, b"\x00"))
    ok = s.device.delete_template(uid, fid)
    s.terminal.save_state()
    s.reply(Reply.ACK_OK if ok else Reply.ACK_ERROR, req)


async def _delete_template_by_pin(s: Session, req: Packet) -> None:
    user_id = req.payload[:24].split(b"\x00", 1)[0].decode("ascii", errors="replace")
    fid = req.payload[24] if len(req.payload) > 24 else 0
    user = s.device.user_by_id(user_id)
    ok = user is not None and s.device.delete_template(user.uid, fid)
    s.terminal.save_state()
    s.reply(Reply.ACK_OK if ok else Reply.ACK_ERROR, req)


async def _clear_attlog(s: Session, req: Packet) -> None:
    s.device.clear_attendance()
    s.terminal.save_state()
    s.reply(Reply.ACK_OK, req)


async def _clear_data(s: Session, req: Packet) -> None:
    s.device.clear_data(req.payload[0] if req.payload else None)
    s.terminal.save_state()
    s.reply(Reply.ACK_OK, req)


async def _clear_admin(s: Session, req: Packet) -> None:
    s.device.clear_admins()
    s.terminal.save_state()
    s.reply(Reply.ACK_OK, req)


async def _state(s: Session, req: Packet) -> None:
    # The state travels in the reply's session field: 0 = waiting (reference §7).
    s.link.send(encode_packet(Reply.ACK_OK, 0, req.reply))


async def _reg_event(s: Session, req: Packet) -> None:
    (flags,) = struct.unpack_from("<I", req.payload.ljust(4, b"\x00"))
    s.reply(Reply.ACK_OK, req)
    if flags & EF_ATTLOG:
        s.start_events()
    else:
        s.stop_events()


# Enrolment events (§7 STARTENROLL, §12): the result code is the payload's first u16.
EF_FINGER = 2
EF_ENROLLFINGER = 8
EF_FPFTR = 256
ENROL_OK = 0
ENROL_TIMEOUT = 4
ENROL_DUPLICATE = 5
ENROL_PRESSES = 3


async def _enroll(s: Session, req: Packet) -> None:
    """Enrol a finger: ACK, then the sensor's events while the person presses three times.

    What the person does comes from ``SimulatedTerminal.sensor`` (tests script it); with
    nothing scripted a finger is presented and a synthetic template is kept.
    """
    payload = req.payload
    if s.link.udp:
        user_id_num, fid = struct.unpack_from("<Ib", payload.ljust(5, b"\x00"))
        user_id = str(user_id_num)
    else:
        user_id = payload[:24].split(b"\x00", 1)[0].decode("ascii", errors="replace")
        fid = payload[24] if len(payload) > 24 else 0
    user = s.device.user_by_id(user_id)
    if user is None or not 0 <= fid < 10:
        s.reply(Reply.ACK_ERROR, req)
        return
    s.reply(Reply.ACK_OK, req)
    sensor = s.terminal.sensor
    planned = sensor.popleft() if sensor else None
    s._loop.create_task(_enrol_events(s, user.uid, user_id, fid, planned))


async def _enrol_events(
    s: Session, uid: int, user_id: str, fid: int, planned: bytes | int | None
) -> None:
    async def event(flag: int, body: bytes) -> None:
        s._acked.clear()
        s.link.send(encode_packet(Cmd.REG_EVENT, flag, 0, body))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(s._acked.wait(), EVENT_ACK_WAIT)

    if isinstance(planned, int):  # the person never came, or the finger is known already
        await event(EF_ENROLLFINGER, struct.pack("<H", planned))
        return
    template = planned or fake_template(simulation_rng(f"{s.device.serial}/{user_id}/{fid}"))
    for _ in range(ENROL_PRESSES):
        await event(EF_FINGER, b"")  # finger on the sensor
        await event(EF_FPFTR, struct.pack("<H", 0x64))  # a good image
    s.device.save_template(Template(uid, fid, 1, template))
    s.terminal.save_state()
    await event(EF_ENROLLFINGER, struct.pack("<HHH", ENROL_OK, len(template), uid))


async def _prepare_buffer(s: Session, req: Packet) -> None:
    breq = decode_buffer_request(req.payload)
    dev = s.device
    if breq.command == Cmd.USERTEMP_RRQ:
        data, kind = dev.users_data(), "users"
    elif breq.command == Cmd.ATTLOG_RRQ:
        data, kind = dev.attendance_data(), "attendance"
    elif breq.command == Cmd.DB_RRQ and breq.fct == FCT_FINGERTMP:
        data, kind = dev.templates_data(), "templates"
    elif breq.command == Cmd.OPLOG_RRQ:
        data, kind = b"\x00\x00\x00\x00", "oplog"
    else:
        s.reply(Reply.ACK_ERROR, req)
        return
    s.buffer_kind = kind
    if len(data) <= DIRECT_MAX:
        s.buffer = None
        s.reply(Cmd.DATA, req, data)
        if kind == "attendance":
            s.terminal.faults.on_attendance_chunk(1)
        return
    s.buffer = data
    free = max(dev.records_cap - dev.record_count, 0)
    s.reply(Reply.ACK_OK, req, encode_buffer_ready(len(data), free))


async def _read_buffer(s: Session, req: Packet) -> None:
    start, size = struct.unpack_from("<ii", req.payload)
    buf = s.buffer
    if buf is None or start < 0 or size <= 0 or start >= len(buf):
        s.reply(Reply.ACK_ERROR, req)
        return
    chunk = buf[start : start + size]
    s.chunks_served += 1
    if s.buffer_kind == "attendance":
        s.terminal.faults.on_attendance_chunk(s.chunks_served)
    if s.drop is not None and s.drop.at_chunk == s.chunks_served:
        # Cut in the middle of this chunk's DATA: what a dying Wi-Fi bridge does.
        s.link.budget = 16 + 8 + 16 + len(chunk) // 2
    await s.send_data(req, chunk, announce=True)


async def _free_data(s: Session, req: Packet) -> None:
    was_attendance = s.buffer_kind == "attendance"
    s.buffer = None
    s.buffer_kind = ""
    s.upload = bytearray()
    s.reply(Reply.ACK_OK, req)
    if was_attendance:
        s.terminal.faults.on_attendance_read_done()


async def _upload_prepare(s: Session, req: Packet) -> None:
    s.upload = bytearray()
    s.reply(Reply.ACK_OK, req)


async def _upload_data(s: Session, req: Packet) -> None:
    if len(s.upload) + len(req.payload) > 16 << 20:
        raise ValueError("upload larger than any device memory")
    s.upload += req.payload
    s.reply(Reply.ACK_OK, req)


async def _checksum_buffer(s: Session, req: Packet) -> None:
    s.reply(Reply.ACK_OK, req, struct.pack("<I", sum(s.upload) & 0xFFFFFFFF))


async def _save_usertemps(s: Session, req: Packet) -> None:
    p = s.device.profile
    users, templates = decode_bulk_save(bytes(s.upload), p.user_size, p.encoding)
    dev = s.device
    with dev.lock:
        for u in users:
            dev.set_user(u)
        for t in templates:
            dev.save_template(t)
    s.upload = bytearray()
    s.terminal.save_state()
    s.reply(Reply.ACK_OK, req)


async def _tmp_write(s: Session, req: Packet) -> None:
    uid, fid, flag, size = struct.unpack_from("<HBBH", req.payload)
    if size > len(s.upload):
        raise ValueError("template size exceeds the uploaded buffer")
    s.device.save_template(Template(uid, fid, flag or 1, bytes(s.upload[:size])))
    s.terminal.save_state()
    s.reply(Reply.ACK_OK, req)


async def _get_usertemp(s: Session, req: Packet) -> None:
    uid, fid = struct.unpack_from("<HB", req.payload.ljust(3, b"\x00"))
    t = s.device.get_template(uid, fid)
    if t is None:
        s.reply(Reply.ACK_ERROR, req)
        return
    # The device appends one byte that clients drop (reference §10.5).
    data = t.template + b"\x00"
    if len(data) <= DIRECT_MAX:
        s.reply(Cmd.DATA, req, data)
    else:
        await s.send_data(req, data, announce=True)


_HANDLERS: dict[int, Handler] = {
    Cmd.EXIT: _exit,
    Cmd.ENABLEDEVICE: _enable,
    Cmd.DISABLEDEVICE: _disable,
    Cmd.RESTART: _restart,
    Cmd.POWEROFF: _restart,
    Cmd.SLEEP: _ack,
    Cmd.RESUME: _ack,
    Cmd.GET_VERSION: _version,
    Cmd.OPTIONS_RRQ: _options_read,
    Cmd.OPTIONS_WRQ: _options_write,
    Cmd.GET_PINWIDTH: _pin_width,
    Cmd.GET_FREE_SIZES: _free_sizes,
    Cmd.GET_TIME: _get_time,
    Cmd.SET_TIME: _set_time,
    Cmd.USER_WRQ: _user_write,
    Cmd.DELETE_USER: _delete_user,
    Cmd.DELETE_USERTEMP: _delete_template,
    Cmd.DEL_USER_TEMP: _delete_template_by_pin,
    Cmd.REFRESHDATA: _ack,
    Cmd.REFRESHOPTION: _ack,
    Cmd.CLEAR_ATTLOG: _clear_attlog,
    Cmd.CLEAR_DATA: _clear_data,
    Cmd.CLEAR_ADMIN: _clear_admin,
    Cmd.UNLOCK: _ack,
    Cmd.TESTVOICE: _ack,
    Cmd.STARTVERIFY: _ack,
    Cmd.CANCELCAPTURE: _ack,
    Cmd.WRITE_LCD: _ack,
    Cmd.CLEAR_LCD: _ack,
    Cmd.DOORSTATE_RRQ: _ack,
    Cmd.STATE_RRQ: _state,
    Cmd.STARTENROLL: _enroll,
    Cmd.REG_EVENT: _reg_event,
    Cmd.PREPARE_BUFFER: _prepare_buffer,
    Cmd.READ_BUFFER: _read_buffer,
    Cmd.FREE_DATA: _free_data,
    Cmd.PREPARE_DATA: _upload_prepare,
    Cmd.DATA: _upload_data,
    Cmd.CHECKSUM_BUFFER: _checksum_buffer,
    Cmd.SAVE_USERTEMPS: _save_usertemps,
    Cmd.TMP_WRITE: _tmp_write,
    Cmd.GET_USERTEMP: _get_usertemp,
}


class _UdpProtocol(asyncio.DatagramProtocol):
    """One UDP endpoint per terminal; a session per peer address, served in order."""

    def __init__(self, terminal: SimulatedTerminal) -> None:
        self.terminal = terminal
        self.transport: asyncio.DatagramTransport | None = None
        self.peers: dict[tuple[str, int], tuple[Session, asyncio.Queue[Packet]]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector transport is not registered as a DatagramTransport subclass.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is None:
            return
        try:
            pkt = decode_packet(data)
        except ValueError:
            return  # a runt datagram: nothing to answer
        peer = self.peers.get(addr)
        if peer is None:
            if pkt.command != Cmd.CONNECT and len(self.peers) > 1000:
                return
            session = Session(self.terminal, _UdpLink(self.terminal.faults, self.transport, addr))
            queue: asyncio.Queue[Packet] = asyncio.Queue()
            peer = (session, queue)
            self.peers[addr] = peer
            self.terminal.track(
                session, asyncio.get_running_loop().create_task(self._serve(addr, session, queue))
            )
        peer[1].put_nowait(pkt)

    async def _serve(
        self, addr: tuple[str, int], session: Session, queue: asyncio.Queue[Packet]
    ) -> None:
        try:
            while not session.finished:
                try:
                    pkt = await asyncio.wait_for(queue.get(), UDP_IDLE)
                except TimeoutError:
                    break
                await session.handle(pkt)
        finally:
            session.close()
            self.peers.pop(addr, None)
            self.terminal.untrack(session)


class SimulatedTerminal:
    """A handle on one served terminal: address, device, faults, lifecycle."""

    def __init__(
        self,
        runtime: SimulatorRuntime,
        device: Device,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        transport: str = "both",
        seed: int = 0,
    ) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport is one of {TRANSPORTS}")
        self.runtime = runtime
        self._device = device
        self.host = host
        self.port = port
        self.transport = transport
        self.faults = Faults(lambda: self._device, seed=seed)
        self._tcp: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._sessions: dict[Session, asyncio.Task[None]] = {}
        self.running = False
        # What the next enrolments meet at the sensor: template bytes (that finger), an int
        # (the failure code: 4 timeout, 5 duplicate), or nothing (a synthetic finger).
        self.sensor: collections.deque[bytes | int] = collections.deque()

    @property
    def device(self) -> Device:
        """The device behind this address (``replace_device`` swaps it)."""
        return self._device

    @property
    def serial(self) -> str:
        """The serial number the terminal reports now."""
        return self._device.serial

    def __repr__(self) -> str:
        return f"<SimulatedTerminal {self.serial} {self.profile_key} {self.host}:{self.port}>"

    @property
    def profile_key(self) -> str:
        """The model profile's key."""
        return self._device.profile.key

    # --- lifecycle (called from any thread but the loop's) ----------------------------------

    def start(self) -> SimulatedTerminal:
        """Bind TCP and UDP on the same port (an ephemeral one when ``port`` is 0)."""
        self.runtime.call(self._open())
        self.running = True
        return self

    def stop(self) -> None:
        """Stop serving, end every session and write the state file."""
        if self.running:
            self.runtime.call(self._close())
            self.running = False
        self.save_state()

    def restart(self) -> None:
        """Power-cycle: stop, reload memory from the state file if there is one, serve again."""
        self.stop()
        if self._device.state_path is not None and self._device.state_path.exists():
            self._device = Device.load(self._device.state_path)
        self.start()

    def move(self, port: int = 0) -> int:
        """Serve the same device on another port (a DHCP change); returns the new port."""
        self.stop()
        self.port = port
        self.start()
        return self.port

    def replace_device(self, device: Device) -> None:
        """Put another terminal (another serial) at this address; open sessions are dropped."""
        self.runtime.call(self._drop_sessions())
        self._device = device

    def save_state(self) -> None:
        """Write the state file, if the device has one."""
        self._device.save()

    def wait_for_listener(self, timeout: float = 5.0) -> bool:
        """Block until a client has registered for realtime events (tests use this)."""
        deadline = self.runtime.loop.time() + timeout
        while self.runtime.loop.time() < deadline:
            if self._device.listener_count:
                return True
            threading.Event().wait(0.01)
        return False

    @property
    def session_count(self) -> int:
        """Open sessions (TCP connections and UDP peers)."""
        return len(self._sessions)

    def summary(self) -> dict[str, Any]:
        """What the CLI prints for this terminal."""
        d = self._device
        sizes = d.sizes()
        return {
            "serial": d.serial,
            "model": d.profile.key,
            "device_name": d.profile.device_name,
            "host": self.host,
            "port": self.port,
            "transport": self.transport,
            "comm_key_set": bool(d.comm_key),
            "encoding": d.profile.encoding,
            "users": sizes.users,
            "records": sizes.records,
            "templates": sizes.fingers,
            "state_file": str(d.state_path) if d.state_path else None,
        }

    # --- loop side --------------------------------------------------------------------------

    def track(self, session: Session, task: asyncio.Task[None]) -> None:
        """Remember a session so stop() can end it."""
        self._sessions[session] = task

    def untrack(self, session: Session) -> None:
        """Forget an ended session."""
        self._sessions.pop(session, None)

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        attempts = 20 if self.port == 0 else 1
        for attempt in range(attempts):
            tcp: asyncio.Server | None = None
            try:
                port = self.port
                if self.transport in ("both", "tcp"):
                    tcp = await asyncio.start_server(self._serve_tcp, self.host, port)
                    port = tcp.sockets[0].getsockname()[1]
                udp: asyncio.DatagramTransport | None = None
                if self.transport in ("both", "udp"):
                    udp, _ = await loop.create_datagram_endpoint(
                        lambda: _UdpProtocol(self), local_addr=(self.host, port)
                    )
                    port = udp.get_extra_info("sockname")[1]
            except OSError:
                if tcp is not None:
                    tcp.close()
                    await tcp.wait_closed()
                if attempt == attempts - 1:
                    raise
                continue
            self._tcp, self._udp, self.port = tcp, udp, port
            return

    async def _close(self) -> None:
        if self._tcp is not None:
            self._tcp.close()
        if self._udp is not None:
            self._udp.close()
        await self._drop_sessions()
        if self._tcp is not None:
            await self._tcp.wait_closed()
        self._tcp = None
        self._udp = None

    async def _drop_sessions(self) -> None:
        tasks = []
        for session, task in list(self._sessions.items()):
            session.close()
            task.cancel()
            tasks.append(task)
        await asyncio.gather(*tasks, return_exceptions=True)
        self._sessions.clear()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self, _TcpLink(self.faults, writer))
        task = asyncio.current_task()
        if task is not None:
            self.track(session, task)
        deframer = TcpDeframer()
        try:
            while not session.finished:
                data = await reader.read(65536)
                if not data:
                    break
                for pkt in deframer.feed(data):
                    await session.handle(pkt)
                    if session.finished:
                        break
            if deframer.skipped:
                logger.debug("skipped %d garbage bytes from a TCP client", deframer.skipped)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # The terminal is stopping. Ending normally matters: asyncio's stream callback
            # calls exception() on this task, which on a cancelled task raises and gets
            # logged as an unhandled error with a traceback on every shutdown.
            pass
        finally:
            session.close()
            self.untrack(session)
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                writer.close()
                await writer.wait_closed()


def new_serial(rng: random.Random, prefix: str = "RSIM") -> str:
    """A plausible 13-character serial (ZK serials are alphanumeric, e.g. ``BJ2C201560123``)."""
    return prefix + "".join(rng.choice("0123456789") for _ in range(9))
