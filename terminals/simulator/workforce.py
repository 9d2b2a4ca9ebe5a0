# SPDX-License-Identifier: GPL-2.0-or-later
"""A simulated workforce: people who punch on realistic schedules (issue #3).

Day, late and night shifts with jitter, breaks, forgotten punches and double taps give the demo
live punches and the benchmarks realistic data. Everything is drawn from a seeded
``random.Random``, so a seed reproduces the same people and the same history.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from terminals.simulator.codec import Punch, User
from terminals.simulator.device import Device, DeviceFullError, simulation_rng

# Punch states (reference §10.4): what the person pressed on the keypad.
CHECK_IN, CHECK_OUT, BREAK_OUT, BREAK_IN = 0, 1, 2, 3
# Verify types: how the device recognised the person.
VERIFY_PASSWORD, VERIFY_FINGER, VERIFY_CARD = 0, 1, 2

LATIN_FIRST = (
    "Ana",
    "Ben",
    "Chloé",
    "David",
    "Elif",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
    "Marta",
    "Nils",
    "Olga",
    "Pablo",
    "Rosa",
    "Sami",
    "Tomás",
    "Ursula",
    "Vera",
    "Wim",
    "Yara",
    "Zoë",
)
LATIN_LAST = (
    "Almeida",
    "Berg",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Horvat",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Weber",
)
CHINESE_SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙")
CHINESE_GIVEN = (
    "伟",
    "芳",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
)


@dataclass(frozen=True, slots=True)
class Shift:
    """A shift pattern; ``end`` earlier than ``start`` means it ends the next day."""

    name: str
    start: time
    end: time
    break_start: time | None
    break_minutes: int
    weekdays: frozenset[int]


DAY = Shift("day", time(8, 0), time(17, 0), time(12, 0), 30, frozenset(range(5)))
LATE = Shift("late", time(14, 0), time(22, 0), time(18, 0), 20, frozenset(range(5)))
# Night shifts start Sunday to Thursday evening and end the next morning.
NIGHT = Shift("night", time(22, 0), time(6, 0), time(2, 0), 20, frozenset((6, 0, 1, 2, 3)))


@dataclass(frozen=True, slots=True)
class Worker:
    """One person: their PIN, name, shift and habits."""

    user_id: str
    name: str
    shift: Shift
    takes_break: bool
    card_user: bool
    punctuality: float  # standard deviation of arrival jitter, minutes


@dataclass(frozen=True, slots=True)
class Habits:
    """How often the small human errors happen."""

    forget: float = 0.03
    double_tap: float = 0.04
    absent: float = 0.04


class Workforce:
    """A seeded set of workers and the punches they make."""

    def __init__(
        self,
        size: int = 25,
        *,
        seed: int = 0,
        names: str = "latin",
        night_share: float = 0.15,
        late_share: float = 0.2,
        first_pin: int = 1001,
        habits: Habits | None = None,
    ) -> None:
        if names not in ("latin", "chinese", "mixed"):
            raise ValueError("names is latin, chinese or mixed")
        self.seed = seed
        self.habits = habits or Habits()
        rng = simulation_rng(seed)
        self.workers: list[Worker] = []
        for i in range(size):
            chinese = names == "chinese" or (names == "mixed" and i % 3 == 2)
            if chinese:
                name = rng.choice(CHINESE_SURNAMES) + rng.choice(CHINESE_GIVEN)
            else:
                name = f"{rng.choice(LATIN_FIRST)} {rng.choice(LATIN_LAST)}"
            roll = rng.random()
            shift = (
                NIGHT if roll < night_share else LATE if roll < night_share + late_share else DAY
            )
            self.workers.append(
                Worker(
                    user_id=str(first_pin + i),
                    name=name,
                    shift=shift,
                    takes_break=rng.random() < 0.7,
                    card_user=rng.random() < 0.2,
                    punctuality=rng.uniform(2.0, 9.0),
                )
            )

    def users(self) -> list[User]:
        """The workers as device users, uids from 1; the first is an administrator."""
        return [
            User(uid=i + 1, user_id=w.user_id, name=w.name, privilege=14 if i == 0 else 0)
            for i, w in enumerate(self.workers)
        ]

    def enrol(self, device: Device) -> None:
        """Store every worker as a user of ``device``."""
        with device.lock:
            for u in self.users():
                device.set_user(u)

    def punches_for_day(self, day: date) -> list[Punch]:
        """Every punch of the shifts that start on ``day``, sorted by time.

        Seeded per day, so a day's punches are the same whether generated for history or live.
        """
        rng = simulation_rng(f"{self.seed}:{day.isoformat()}")
        out: list[Punch] = []
        for w in self.workers:
            if day.weekday() not in w.shift.weekdays or rng.random() < self.habits.absent:
                continue
            out.extend(self._shift_punches(w, day, rng))
        out.sort(key=lambda p: p.timestamp)
        return out

    def _shift_punches(self, w: Worker, day: date, rng: random.Random) -> list[Punch]:
        s = w.shift
        start = datetime.combine(day, s.start)
        end = datetime.combine(day, s.end)
        if end <= start:
            end += timedelta(days=1)
        plan = [(start + timedelta(minutes=rng.gauss(-6, w.punctuality)), CHECK_IN)]
        if w.takes_break and s.break_start is not None:
            b = datetime.combine(day, s.break_start)
            if b < start:
                b += timedelta(days=1)
            out_at = b + timedelta(minutes=rng.gauss(0, 4))
            back = out_at + timedelta(minutes=s.break_minutes + rng.gauss(1, 3))
            plan += [(out_at, BREAK_OUT), (back, BREAK_IN)]
        plan.append((end + timedelta(minutes=abs(rng.gauss(4, w.punctuality))), CHECK_OUT))
        verify = VERIFY_CARD if w.card_user else VERIFY_FINGER
        punches: list[Punch] = []
        for at, state in plan:
            if rng.random() < self.habits.forget:
                continue
            t = at.replace(microsecond=0)
            punches.append(Punch(w.user_id, t, verify, state))
            if rng.random() < self.habits.double_tap:
                # Not sure the beep was heard, the person taps again a moment later.
                punches.append(
                    Punch(w.user_id, t + timedelta(seconds=rng.randint(1, 4)), verify, state)
                )
        return punches

    def history(self, end: datetime, days: int) -> list[Punch]:
        """Punches of the ``days`` days before ``end`` (only those already made by ``end``)."""
        out: list[Punch] = []
        first = end.date() - timedelta(days=days)
        for i in range(days + 1):
            out.extend(
                p for p in self.punches_for_day(first + timedelta(days=i)) if p.timestamp < end
            )
        return [p for p in out if p.timestamp >= end - timedelta(days=days)]

    def history_records(self, end: datetime, count: int) -> list[Punch]:
        """Exactly the ``count`` most recent punches before ``end``, going back as needed."""
        if count <= 0:
            return []
        if not self.workers:
            raise ValueError("an empty workforce makes no punches")
        chunks: list[list[Punch]] = []
        total = 0
        day = end.date()
        oldest = date(2000, 1, 2)
        while total < count and day > oldest:
            todays = [p for p in self.punches_for_day(day) if p.timestamp < end]
            chunks.append(todays)
            total += len(todays)
            day -= timedelta(days=1)
        flat = [p for chunk in reversed(chunks) for p in chunk]
        flat.sort(key=lambda p: p.timestamp)
        return flat[-count:]


async def run_live(
    device: Device,
    workforce: Workforce,
    *,
    speed: float = 1.0,
    start: datetime | None = None,
) -> None:
    """Punch into ``device`` as the schedule comes due, ``speed`` times faster than real time
    (stamped with the device clock, as a terminal does).

    Simulated time starts at ``start`` (the device clock by default). While the device is
    disabled (a client is reading) people wait at the terminal and punch when it is back.
    Runs until cancelled.
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    loop = asyncio.get_running_loop()
    sim_start = start or device.clock.now()
    real_start = loop.time()

    def sim_now() -> datetime:
        return sim_start + timedelta(seconds=(loop.time() - real_start) * speed)

    day = sim_start.date()
    while True:
        todays = [p for p in workforce.punches_for_day(day) if p.timestamp >= sim_start]
        for p in todays:
            wait = (p.timestamp - sim_now()).total_seconds() / speed
            if wait > 0:
                await asyncio.sleep(wait)
            while not device.enabled:
                await asyncio.sleep(0.2)
            # A terminal stamps a punch with its own clock. Faster than real time, the
            # schedule only decides how often people punch: simulated timestamps would run
            # ahead of every clock and be quarantined as "in the future" within minutes.
            stamp = p.timestamp if speed == 1 else device.clock.now()
            with contextlib.suppress(DeviceFullError):
                device.add_punches([Punch(p.user_id, stamp, p.status, p.punch, p.workcode)])
        day += timedelta(days=1)
