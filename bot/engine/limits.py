"""Rate limits in memory: at most N events per window per key, and when the next one may come.

Platform-neutral: a key is whatever a front end counts by (a person in a server, a server). The
windows slide (the oldest event leaves exactly `seconds` after it happened), so a burst at the
end of one minute and another at the start of the next cannot double the rate.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

__all__ = ["Rate", "SlidingWindow"]

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*$")
SWEEP_EVERY = 4096  # hits between sweeps of keys whose events have all expired


@dataclass(frozen=True)
class Rate:
    """`count` events per `seconds`."""

    count: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """Read `N/SECONDS`, e.g. `20/60`; ValueError with the expected form otherwise."""
        match = _RATE.match(text)
        if match is None or int(match[1]) < 1 or float(match[2]) <= 0:
            raise ValueError(f"{text!r} is not a rate; write N/SECONDS with N >= 1, e.g. 20/60")
        return cls(count=int(match[1]), seconds=float(match[2]))

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds:g}"


class SlidingWindow:
    """At most `rate.count` events per `rate.seconds` for each key.

    Only keys with an event inside the window take memory: the others are swept away.
    """

    def __init__(self, rate: Rate, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._events: dict[Hashable, deque[float]] = {}
        self._hits = 0

    def hit(self, key: Hashable) -> float | None:
        """Count an event for `key` if the rate allows it (None); else the seconds to wait."""
        now = self._clock()
        self._sweep(now)
        wait = self._wait(key, now)
        if wait is None:
            self._events.setdefault(key, deque()).append(now)
        return wait

    def wait(self, key: Hashable) -> float | None:
        """Like `hit` without counting: None if an event for `key` would be allowed now."""
        return self._wait(key, self._clock())

    def _wait(self, key: Hashable, now: float) -> float | None:
        events = self._events.get(key)
        if events is None:
            return None
        self._expire(events, now)
        if len(events) >= self.rate.count:
            return max(0.0, events[0] + self.rate.seconds - now)
        return None

    def __len__(self) -> int:
        return len(self._events)

    def _expire(self, events: deque[float], now: float) -> None:
        while events and events[0] + self.rate.seconds <= now:
            events.popleft()

    def _sweep(self, now: float) -> None:
        self._hits += 1
        if self._hits % SWEEP_EVERY:
            return
        for key in list(self._events):
            events = self._events[key]
            self._expire(events, now)
            if not events:
                del self._events[key]
