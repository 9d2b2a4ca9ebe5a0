# SPDX-License-Identifier: GPL-2.0-or-later
"""A fleet of simulated terminals for tests, the demo and benchmarks (issue #3).

``SimulatorFleet`` owns one serving loop; ``start()`` puts a terminal on an ephemeral
127.0.0.1 port (TCP and UDP on the same number) with a workforce and punch history, and
``stop()`` ends everything, so a pytest fixture is three lines::

    with SimulatorFleet() as fleet:
        yield fleet
"""

from __future__ import annotations

import asyncio
import socket
import struct
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from types import TracebackType

from terminals.simulator.codec import (
    Cmd,
    Packet,
    Reply,
    TcpDeframer,
    Template,
    decode_packet,
    encode_packet,
    frame_tcp,
    make_commkey,
)
from terminals.simulator.device import Device, fake_template, simulation_rng
from terminals.simulator.profiles import get_profile
from terminals.simulator.server import SimulatedTerminal, SimulatorRuntime, new_serial
from terminals.simulator.workforce import Workforce, run_live

DEFAULT_USERS = 25
DEFAULT_DAYS = 3


def build_device(
    model: str = "tft",
    *,
    serial: str | None = None,
    users: int | None = None,
    records: int | None = None,
    days: int = DEFAULT_DAYS,
    fingers: int = 0,
    comm_key: int = 0,
    empty: bool = False,
    names: str | None = None,
    seed: int = 0,
    state_path: Path | None = None,
    now: datetime | None = None,
) -> Device:
    """A device with a workforce and history (unless ``empty``), or loaded from ``state_path``.

    ``records`` asks for exactly that many punches (the most recent of a long enough history);
    otherwise ``days`` days of history are stored.
    """
    if state_path is not None and state_path.exists():
        return Device.load(state_path)
    profile = get_profile(model)
    rng = simulation_rng(seed)
    dev = Device(profile, serial or new_serial(rng), comm_key=comm_key, state_path=state_path)
    if not empty:
        chosen = names or ("chinese" if profile.encoding == "gbk" else "latin")
        n_users = DEFAULT_USERS if users is None else users
        wf = Workforce(n_users, seed=seed, names=chosen)
        wf.enrol(dev)
        end = now or dev.clock.now()
        if n_users:
            history = (
                wf.history_records(end, records) if records is not None else wf.history(end, days)
            )
            dev.records_cap = max(dev.records_cap, len(history))
            dev.add_punches(history, notify=False)
        for i, u in enumerate(dev.users()[:fingers]):
            dev.save_template(Template(u.uid, i % 10, 1, fake_template(rng)))
    dev.save()
    return dev


class SimulatorFleet:
    """Many terminals served from one background loop; a context manager stops them all."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.runtime = SimulatorRuntime()
        self.terminals: list[SimulatedTerminal] = []
        self._live: list[Future[None]] = []
        self._seed = 0

    def __enter__(self) -> SimulatorFleet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(
        self,
        model: str = "tft",
        *,
        records: int | None = None,
        users: int | None = None,
        days: int = DEFAULT_DAYS,
        fingers: int = 0,
        comm_key: int = 0,
        empty: bool = False,
        serial: str | None = None,
        transport: str = "both",
        port: int = 0,
        names: str | None = None,
        seed: int | None = None,
        state_path: Path | None = None,
        device: Device | None = None,
    ) -> SimulatedTerminal:
        """Serve a new terminal and return its handle (port 0 picks a free one)."""
        if seed is None:
            self._seed += 1
            seed = self._seed
        dev = device or build_device(
            model,
            serial=serial,
            users=users,
            records=records,
            days=days,
            fingers=fingers,
            comm_key=comm_key,
            empty=empty,
            names=names,
            seed=seed,
            state_path=state_path,
        )
        term = SimulatedTerminal(
            self.runtime, dev, host=self.host, port=port, transport=transport, seed=seed
        )
        term.start()
        self.terminals.append(term)
        return term

    def replace(
        self,
        term: SimulatedTerminal,
        *,
        serial: str | None = None,
        model: str | None = None,
        users: int | None = None,
        records: int | None = None,
        comm_key: int = 0,
        empty: bool = False,
    ) -> Device:
        """Put a different terminal (new serial, its own memory) at ``term``'s address."""
        self._seed += 1
        new = build_device(
            model or term.profile_key,
            serial=serial or new_serial(simulation_rng(self._seed), prefix="RREP"),
            users=users,
            records=records,
            comm_key=comm_key,
            empty=empty,
            seed=self._seed,
        )
        term.replace_device(new)
        return new

    def run_workforce(
        self,
        term: SimulatedTerminal,
        workforce: Workforce | None = None,
        *,
        speed: float = 1.0,
        start: datetime | None = None,
    ) -> Future[None]:
        """Let a workforce punch into ``term`` live; cancelled by ``stop()``."""
        wf = workforce or Workforce(max(len(term.device.users()), 1), seed=self._seed)
        fut = asyncio.run_coroutine_threadsafe(
            run_live(term.device, wf, speed=speed, start=start), self.runtime.loop
        )
        self._live.append(fut)
        return fut

    def stop(self) -> None:
        """Stop every terminal and the loop; safe to call twice."""
        for fut in self._live:
            fut.cancel()
        self._live.clear()
        for term in self.terminals:
            term.stop()
        self.terminals.clear()
        self.runtime.stop()


class RawClient:
    """A minimal protocol client for tests that need exact bytes (not a replacement for pyzk).

    It numbers requests like real clients (reply id +1 per command) and exposes every packet,
    so tests can check layouts, ordering and how garbage is survived.
    """

    def __init__(self, host: str, port: int, *, udp: bool = False, timeout: float = 2.0) -> None:
        self.udp = udp
        family = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
        self.sock = socket.socket(socket.AF_INET, family)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.session_id = 0
        self.reply_id = 0
        self._deframer = TcpDeframer()
        self._pending: list[Packet] = []

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are (garbage tests)."""
        self.sock.sendall(data)

    def send(self, command: int, payload: bytes = b"", *, reply: int | None = None) -> int:
        """Send one command; returns the reply id used."""
        rid = self.reply_id if reply is None else reply
        packet = encode_packet(command, self.session_id, rid, payload)
        self.sock.sendall(packet if self.udp else frame_tcp(packet))
        if reply is None:
            self.reply_id = (self.reply_id + 1) % 0xFFFF
        return rid

    def recv(self) -> Packet:
        """Receive one packet; raises ``TimeoutError`` when nothing comes."""
        if self.udp:
            return decode_packet(self.sock.recv(65535))
        while not self._pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionResetError("simulator closed the connection")
            self._pending.extend(self._deframer.feed(data))
        return self._pending.pop(0)

    def request(self, command: int, payload: bytes = b"") -> Packet:
        """Send a command and return the first packet that answers it."""
        self.send(command, payload)
        return self.recv()

    def connect(self, comm_key: int = 0) -> Packet:
        """CONNECT (and AUTH when the device asks for it); returns the final answer."""
        self.reply_id = 0
        self.session_id = 0
        first = self.request(Cmd.CONNECT)
        self.session_id = first.session
        if first.command != Reply.ACK_UNAUTH:
            return first
        return self.request(Cmd.AUTH, make_commkey(comm_key, self.session_id))

    def read_buffer(self, command: int, fct: int = 0, chunk: int = 0xFFC0) -> bytes:
        """A complete 1503/1504 read the way pyzk does it, returning the data set."""
        first = self.request(Cmd.PREPARE_BUFFER, struct.pack("<bHiI", 1, command, fct, 0))
        if first.command == Cmd.DATA:
            return first.payload
        (size,) = struct.unpack_from("<I", first.payload, 1)
        out = bytearray()
        for start in range(0, size, chunk):
            self.send(Cmd.READ_BUFFER, struct.pack("<ii", start, min(chunk, size - start)))
            while True:
                pkt = self.recv()
                if pkt.command == Cmd.DATA:
                    out += pkt.payload
                elif pkt.command == Reply.ACK_OK:
                    break
        self.request(Cmd.FREE_DATA)
        return bytes(out)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()
