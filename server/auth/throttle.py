# SPDX-License-Identifier: GPL-2.0-or-later
"""Throttling of failed sign-ins per client address (issue #6).

The lockout in :mod:`server.auth.services` protects one account; it does nothing against
someone who tries one password on many usernames, or who guesses names. This counts
failed attempts (passwords and second-factor codes) per address in a sliding window and
refuses further attempts from an address past the limit until the window has moved on.

It lives in the process's memory: Rollcall serves from one waitress process, and a
restart forgetting the counts is harmless next to the accounts' own lockout, which is
stored. Behind a reverse proxy the address is the client's only when ProxyFix is told
to trust the proxy (``trusted_proxies``); otherwise every client shares the proxy's.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

# Twenty failures in fifteen minutes from one address: four accounts' worth of lockouts.
LIMIT = 20
WINDOW_SECONDS = 15 * 60
# Addresses remembered at most, the least recently failing forgotten first, so a flood
# of spoofed or rotating addresses cannot grow the process without bound.
MAX_ADDRESSES = 10_000


@dataclass(frozen=True, slots=True)
class Verdict:
    retry_after: int  # seconds until the address may try again; 0: it may now
    first_refusal: bool  # the first refusal since the address went over the limit


class SignInThrottle:
    def __init__(
        self,
        *,
        limit: int = LIMIT,
        window_seconds: float = WINDOW_SECONDS,
        max_addresses: int = MAX_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_addresses = max_addresses
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        # The spell (time of its oldest counted failure) already reported per address.
        self._reported: dict[str, float] = {}
        self._lock = threading.Lock()

    def _forget(self, address: str) -> None:
        self._failures.pop(address, None)
        self._reported.pop(address, None)

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        if times is None:
            return None
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            self._forget(address)
            return None
        return times

    def check(self, address: str | None) -> Verdict:
        """Whether ``address`` may try to sign in now."""
        if not address:
            return Verdict(0, False)
        with self._lock:
            now = self._clock()
            times = self._recent(address, now)
            if times is None or len(times) < self.limit:
                return Verdict(0, False)
            spell = times[0]
            first = self._reported.get(address) != spell
            self._reported[address] = spell
            return Verdict(max(1, math.ceil(spell + self.window - now)), first)

    def failed(self, address: str | None) -> None:
        if not address:
            return
        with self._lock:
            now = self._clock()
            times = self._recent(address, now)
            if times is None:
                times = deque(maxlen=self.limit)
                self._failures[address] = times
            times.append(now)
            self._failures.move_to_end(address)
            while len(self._failures) > self.max_addresses:
                self._forget(next(iter(self._failures)))
