# SPDX-License-Identifier: GPL-2.0-or-later
"""Fault injection, per terminal and scriptable from tests (issue #3).

Network faults (latency, drops, datagram loss, error replies, busy, real-device framing) are
read by the serving loop; state faults (clock resets, bogus dates, duplicates, full memory,
punches racing a transfer or a clear) act on the device at once or at the scripted moment.
Every method is safe to call from the test's thread while the loop serves clients.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from terminals.simulator.codec import Punch, Reply
from terminals.simulator.device import Device, simulation_rng

# Dates real devices produce after a power cut or a firmware bug (reference §18 item 5).
BOGUS_DATES = (
    datetime(2000, 1, 1, 0, 0, 0),
    datetime(2063, 4, 5, 1, 2, 3),
    datetime(2054, 11, 30, 23, 59, 59),
)


@dataclass(slots=True)
class DropPlan:
    """How the connection armed with this plan is cut."""

    after_bytes: int | None
    at_chunk: int | None
    # TCP: end with a reset (RST), as a terminal that crashes or reboots does, instead of
    # an orderly close (FIN). pyzk 0.9 survives only the reset: on a close in the middle
    # of a chunk it loops on empty reads forever.
    reset: bool = False


class Faults:
    """The fault switches of one terminal; ``clear()`` restores a healthy device."""

    def __init__(self, device: Callable[[], Device], seed: int = 0) -> None:
        self._device = device
        self._lock = threading.Lock()
        self._rng = simulation_rng(seed)
        self.clear()

    def clear(self) -> None:
        """Remove every network fault (state already changed stays changed)."""
        with self._lock:
            self.latency = 0.0
            self.jitter = 0.0
            self.busy = False
            self.real_framing = False
            self.packet_gap = 0.0
            self.loss_rate = 0.0
            self.loss_every = 0
            self._sent_datagrams = 0
            self._drops: list[tuple[DropPlan, int]] = []
            self._failures: dict[int, list[int]] = {}
            self._during_transfer: tuple[int, int] | None = None
            self._after_read = 0

    # --- network ----------------------------------------------------------------------------

    def set_latency(self, seconds: float, jitter: float = 0.0) -> None:
        """Delay every reply by ``seconds`` plus up to ``jitter`` more."""
        with self._lock:
            self.latency = seconds
            self.jitter = jitter

    def drop_connection(
        self,
        *,
        after_bytes: int | None = None,
        at_chunk: int | None = None,
        times: int = 1,
        reset: bool = False,
    ) -> None:
        """Cut the next ``times`` sessions: after N bytes sent, or in the middle of chunk K.

        Chunks count the 1504 replies of a session from 1. The plan is armed at CONNECT, not at
        accept, because pyzk opens and closes a bare TCP probe first (reference §3). Over UDP a
        cut session stops answering until the client connects again.
        """
        if (after_bytes is None) == (at_chunk is None):
            raise ValueError("give exactly one of after_bytes or at_chunk")
        with self._lock:
            self._drops.append((DropPlan(after_bytes, at_chunk, reset), times))

    def lose_datagrams(self, rate: float = 0.0, *, every: int = 0) -> None:
        """Drop outgoing UDP datagrams: each with probability ``rate``, or every Nth one."""
        with self._lock:
            self.loss_rate = rate
            self.loss_every = every
            self._sent_datagrams = 0

    def fail_command(self, command: int, *, times: int = 1, reply: int = Reply.ACK_ERROR) -> None:
        """Answer the next ``times`` requests of ``command`` with ``reply`` (ACK_ERROR)."""
        with self._lock:
            self._failures[int(command)] = [int(reply), times]

    def set_busy(self, busy: bool = True) -> None:
        """A busy device (someone in its menu) answers everything but CONNECT/EXIT with an error."""
        with self._lock:
            self.busy = busy

    def pace_packets(self, seconds: float = 0.002) -> None:
        """Pause between the packets of one reply (PREPARE_DATA, DATA, ACK_OK), as a real
        terminal's CPU does. Clients that parse one packet per socket read (zkteco-js)
        depend on it; pyzk does not, so it is off by default."""
        if seconds < 0:
            raise ValueError("a pause cannot be negative")
        with self._lock:
            self.packet_gap = seconds

    def use_real_framing(self, on: bool = True) -> None:
        """Opt in to 1008-byte DATA packets with sequence numbers, as real devices send (§11.4)."""
        with self._lock:
            self.real_framing = on

    # --- state ------------------------------------------------------------------------------

    def disable_device(self) -> None:
        """Leave the device disabled, as a crashed client would."""
        self._device().enabled = False

    def reset_clock(self, to: datetime = BOGUS_DATES[0]) -> None:
        """A power cut without RTC battery: the clock restarts at 2000-01-01 (§18 item 10)."""
        self._device().clock.set(to)

    def set_clock_drift(self, ppm: float) -> None:
        """Make the clock run fast (positive ppm) or slow."""
        self._device().clock.set_drift(ppm)

    def add_bogus_punches(self, n: int, when: datetime | None = None) -> list[Punch]:
        """Store ``n`` punches with impossible dates (2000-01-01, 2063, 2054 by default)."""
        dev = self._device()
        users = dev.users()
        made = [
            Punch(
                users[i % len(users)].user_id if users else str(i + 1),
                when or BOGUS_DATES[i % len(BOGUS_DATES)],
            )
            for i in range(n)
        ]
        dev.add_punches(made)
        return made

    def duplicate_records(self, n: int) -> list[Punch]:
        """Store the last ``n`` records again, as devices that double-record do (§18 item 9)."""
        dev = self._device()
        dupes = dev.attendance()[-n:] if n else []
        dev.add_punches(dupes)
        return dupes

    def fill_memory(self, kind: str = "records") -> None:
        """Shrink a capacity to the current count so the next write is refused."""
        dev = self._device()
        with dev.lock:
            sizes = dev.sizes()
            if kind == "records":
                dev.records_cap = sizes.records
            elif kind == "users":
                dev.users_cap = sizes.users
            elif kind == "fingers":
                dev.fingers_cap = sizes.fingers
            else:
                raise ValueError("kind is records, users or fingers")

    def add_punches_during_transfer(self, n: int, at_chunk: int = 1) -> None:
        """Store ``n`` punches while chunk K of the next attendance read is being served.

        The read itself returns its snapshot, so the punches are only seen by the next read:
        exactly what a device with a person at the sensor does.
        """
        with self._lock:
            self._during_transfer = (n, at_chunk)

    def add_punches_after_read(self, n: int) -> None:
        """Store ``n`` punches right after the next attendance read ends (FREE_DATA).

        A client that clears without re-checking the count then loses them (§18 item 12).
        """
        with self._lock:
            self._after_read = n

    # --- hooks for the serving loop ---------------------------------------------------------

    def reply_delay(self) -> float:
        """Seconds to wait before answering a command."""
        with self._lock:
            if not self.latency and not self.jitter:
                return 0.0
            return self.latency + self._rng.uniform(0.0, self.jitter)

    def take_failure(self, command: int) -> int | None:
        """The scripted reply code for this command, consuming one use."""
        with self._lock:
            entry = self._failures.get(command)
            if entry is None:
                return None
            entry[1] -= 1
            if entry[1] <= 0:
                del self._failures[command]
            return entry[0]

    def arm_drop(self) -> DropPlan | None:
        """Hand the next drop plan to a session that just connected."""
        with self._lock:
            if not self._drops:
                return None
            plan, times = self._drops[0]
            if times <= 1:
                self._drops.pop(0)
            else:
                self._drops[0] = (plan, times - 1)
            return DropPlan(plan.after_bytes, plan.at_chunk, plan.reset)

    def lose_this_datagram(self) -> bool:
        """Whether the next outgoing UDP datagram is lost."""
        with self._lock:
            self._sent_datagrams += 1
            if self.loss_every and self._sent_datagrams % self.loss_every == 0:
                return True
            return bool(self.loss_rate) and self._rng.random() < self.loss_rate

    def on_attendance_chunk(self, chunk: int) -> None:
        """Called when chunk ``chunk`` (from 1) of an attendance read is served."""
        with self._lock:
            plan = self._during_transfer
            if plan is None or plan[1] != chunk:
                return
            self._during_transfer = None
        self._spontaneous_punches(plan[0])

    def on_attendance_read_done(self) -> None:
        """Called at FREE_DATA after an attendance read."""
        with self._lock:
            n, self._after_read = self._after_read, 0
        if n:
            self._spontaneous_punches(n)

    def _spontaneous_punches(self, n: int) -> None:
        """Punches by enrolled users at the device's current time, a second apart."""
        dev = self._device()
        users = dev.users()
        now = dev.clock.now()
        made = [
            Punch(
                users[self._rng.randrange(len(users))].user_id if users else "1",
                now + timedelta(seconds=i),
                status=1,
                punch=self._rng.choice((0, 1)),
            )
            for i in range(n)
        ]
        dev.add_punches(made)
