"""What the load benchmark watches in the bot's own process: event-loop lag, stalls, memory.

`LoopProbe` is a task that sleeps 10 ms again and again and records how late it woke (the
loop's lag). `StallWatch` is a thread that, while the probe has not woken for longer than a
threshold, samples the main thread's stack: the stacks seen during stalls, counted, say what
held the loop. RSS figures come from /proc/self/status (peak: VmHWM, which `reset_peak` resets).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import traceback
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from discord_figures import percentile

REPO = Path(__file__).resolve().parent.parent
HIDDEN = ("/asyncio/", "/selectors.py", "/threading.py")  # frames every stack has


def status_kib(name: str) -> int:
    """A field of /proc/self/status in KiB (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise KeyError(name)


def rss_mib() -> float:
    return status_kib("VmRSS") / 1024


def peak_rss_mib() -> float:
    return status_kib("VmHWM") / 1024


def reset_peak() -> None:
    """Start VmHWM again from the current RSS (Linux 4.0+)."""
    Path("/proc/self/clear_refs").write_text("5")


def load_average() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class LoopProbe:
    """Sleeps `period` seconds in a loop; `late[i]` is how late wake-up i came (seconds)."""

    period: float = 0.010
    woke: array[float] = field(default_factory=lambda: array("d"))
    late: array[float] = field(default_factory=lambda: array("d"))
    beat: float = field(default_factory=time.perf_counter)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bench-loop-probe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            began = time.perf_counter()
            await asyncio.sleep(self.period)
            self.beat = time.perf_counter()
            self.woke.append(self.beat)
            self.late.append(self.beat - began - self.period)

    def lags_ms(self, start: float = 0.0, end: float = float("inf")) -> list[float]:
        """The lags of the wake-ups between `start` and `end` (perf_counter seconds), in ms."""
        return [
            late * 1000
            for woke, late in zip(self.woke, self.late, strict=True)
            if start <= woke <= end
        ]

    def summary(self, start: float = 0.0, end: float = float("inf")) -> str:
        lags = self.lags_ms(start, end)
        if not lags:
            return "no samples"
        over = sum(lag > 50 for lag in lags)
        return (
            f"max {max(lags):.1f} ms, p99 {percentile(lags, 99):.1f} ms, "
            f"p50 {percentile(lags, 50):.1f} ms, {over} wake-up(s) > 50 ms late of {len(lags)}"
        )


class StallWatch(threading.Thread):
    """Samples the event loop's thread every `every` s while the probe is over `threshold` s
    late; `stacks` counts the (innermost, shortened) stacks seen, `stalls` the stalls."""

    def __init__(self, probe: LoopProbe, threshold: float = 0.060, every: float = 0.005) -> None:
        super().__init__(name="bench-stall-watch", daemon=True)
        self.probe, self.threshold, self.every = probe, threshold, every
        self.stacks: Counter[tuple[str, ...]] = Counter()
        self.stalls: list[tuple[float, tuple[str, ...]]] = []  # (start, first stack seen)
        self._main = threading.main_thread().ident
        self._halt = threading.Event()

    def halt(self) -> None:
        self._halt.set()
        self.join()

    def run(self) -> None:
        stalled = False
        while not self._halt.wait(self.every):
            beat = self.probe.beat
            if time.perf_counter() - beat - self.probe.period < self.threshold:
                stalled = False
                continue
            frame = sys._current_frames().get(self._main or 0)
            if frame is None:
                continue
            stack = shorten(traceback.extract_stack(frame))
            self.stacks[stack] += 1
            if not stalled:
                self.stalls.append((beat, stack))
            stalled = True

    def report(self, top: int = 6) -> list[str]:
        lines = [f"{len(self.stalls)} stall(s) over {self.threshold * 1000:.0f} ms sampled"]
        for stack, count in self.stacks.most_common(top):
            lines.append(f"  {count} sample(s) ({count * self.every * 1000:.0f} ms) in:")
            lines.extend(f"      {frame}" for frame in stack)
        return lines


def shorten(stack: traceback.StackSummary, depth: int = 9) -> tuple[str, ...]:
    """The innermost `depth` frames outside asyncio's machinery, innermost last."""
    if stack and stack[-1].filename.endswith("selectors.py"):
        return ("(waiting in the selector: the process was not given the CPU)",)
    frames = [f for f in stack if not any(part in f.filename for part in HIDDEN)]
    names = []
    for frame in frames[-depth:]:
        path = frame.filename
        for prefix in (str(REPO) + "/", "site-packages/"):
            if prefix in path:
                path = path.split(prefix, 1)[1]
        names.append(f"{path}:{frame.lineno} {frame.name}")
    return tuple(names)
