"""Event-loop health for the load benchmark: which step held the loop, for how long, and why.

A late wake-up of a sleeping task says the loop was late, not why: on a 2-core machine shared
with the fakes process the loop's thread may simply not have been given a CPU. So the loop
itself is measured, step by step:

`StepLoop` is asyncio's Linux event loop with every callback it runs timed by a
`loop_steps.StepRecorder` (task steps, future callbacks, timers, socket readers and writers):
wall time, the loop thread's CPU time, its wait for a CPU (from /proc/thread-self/schedstat),
the garbage collections during the step, the other threads' CPU time and waits, and the
process's major page faults. A step *held* the loop for its wall time less the loop thread's
wait for a CPU; its *work* is that less garbage collection and less the off-CPU time the other
threads' waits for a CPU explain (a GIL holder not scheduled). `StepSampler` samples the loop
thread's stack while a step runs long, so a long step also says which frames it was in.

`LoopProbe` is a task that sleeps 10 ms again and again and notes how late it woke, with the
loop thread's CPU time and CPU wait over each interval: the coarse view.

Nothing in the code under test is changed: the loop is the benchmark's own
(`asyncio.Runner(loop_factory=...)`). Each callback pays about 4 µs for its timing.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sysconfig
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from discord_figures import percentile
from loop_steps import REPO, RunDelay, Step, StepRecorder

STDLIB = sysconfig.get_paths()["stdlib"] + "/"
LOOP_MACHINERY = ("asyncio/events.py", "asyncio/base_events.py")  # a step's frames end here
HIDDEN = ("/asyncio/", "/selectors.py", "/threading.py", "/loop_steps.py")


class StepLoop(asyncio.SelectorEventLoop):
    """The default Linux event loop, with every callback it runs timed by `recorder`."""

    def __init__(self, recorder: StepRecorder) -> None:
        self.recorder = recorder  # before the base class adds its self-pipe reader
        super().__init__()

    def call_soon(  # type: ignore[override]
        self, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.Handle:
        return super().call_soon(self.recorder.wrap(callback), *args, context=context)

    def call_soon_threadsafe(  # type: ignore[override]
        self, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.Handle:
        return super().call_soon_threadsafe(self.recorder.wrap(callback), *args, context=context)

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        return super().call_at(when, self.recorder.wrap(callback), *args, context=context)

    # Socket readiness callbacks (transports, sock_* calls) do not go through call_soon.
    def _add_reader(self, fd: Any, callback: Callable[..., object], *args: Any) -> Any:
        return super()._add_reader(fd, self.recorder.wrap(callback), *args)  # type: ignore[misc]

    def _add_writer(self, fd: Any, callback: Callable[..., object], *args: Any) -> Any:
        return super()._add_writer(fd, self.recorder.wrap(callback), *args)  # type: ignore[misc]


class StepSampler:
    """Samples the loop thread's stack every `every` s while one step has run over `after` s.

    The samples come from a SIGALRM handler, which Python runs in the main thread (the loop's):
    a sampling thread would have to take the GIL from the loop, and whenever that thread waited
    for a CPU while holding it, the loop would wait too. A blocking call is interrupted and the
    handler runs inside it, so the sample shows the call; a long C call is seen only after it
    returns.
    """

    def __init__(self, recorder: StepRecorder, after: float = 0.020, every: float = 0.005) -> None:
        self.recorder, self.after, self.every = recorder, after, every
        self._previous: Any = None

    def start(self) -> None:
        self._previous = signal.signal(signal.SIGALRM, self._sample)
        signal.setitimer(signal.ITIMER_REAL, self.every, self.every)

    def halt(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._previous)

    def _sample(self, signum: int, frame: FrameType | None) -> None:
        running = self.recorder.running
        if running is None or frame is None or time.perf_counter() - running[1] < self.after:
            return
        stack = shorten(frame)
        if not stack:  # in the loop's machinery, between the step's own frames
            return
        self.recorder.samples.setdefault(running[0], Counter())[stack] += 1


def shorten(frame: FrameType | None, depth: int = 8) -> tuple[str, ...]:
    """The innermost `depth` frames outside asyncio's machinery, innermost last, as
    "path:line function" with paths relative to the repository or site-packages (read from the
    frames alone: no source file is opened while the loop waits)."""
    names: list[str] = []
    while frame is not None and len(names) < depth:
        code = frame.f_code
        path = code.co_filename
        if path.endswith(LOOP_MACHINERY):  # the step's own frames end here
            break
        if not any(part in path for part in HIDDEN):
            for prefix in (f"{REPO}/", "site-packages/", STDLIB):
                path = path.split(prefix, 1)[-1]
            names.append(f"{path}:{frame.f_lineno} {code.co_name}")
        frame = frame.f_back
    return tuple(reversed(names))


def instrumented_runner(recorder: StepRecorder) -> asyncio.Runner:
    """An asyncio.Runner whose loop is a StepLoop timing into `recorder`."""

    def factory() -> asyncio.AbstractEventLoop:
        recorder.attach()
        return StepLoop(recorder)

    return asyncio.Runner(loop_factory=factory)


@dataclass
class LoopProbe:
    """Sleeps `period` s again and again; per wake-up, how late it came and, over the
    interval, the thread's CPU time and its wait for a CPU (all in ms)."""

    period: float = 0.010
    woke: array[float] = field(default_factory=lambda: array("d"))
    late: array[float] = field(default_factory=lambda: array("d"))
    cpu: array[float] = field(default_factory=lambda: array("d"))
    waited: array[float] = field(default_factory=lambda: array("d"))
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bench-loop-probe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        delay = RunDelay()
        try:
            while True:
                began, cpu, waited = time.perf_counter(), time.thread_time(), delay()
                await asyncio.sleep(self.period)
                now = time.perf_counter()
                self.woke.append(now)
                self.late.append((now - began - self.period) * 1000)
                self.cpu.append((time.thread_time() - cpu) * 1000)
                self.waited.append((delay() - waited) / 1e6)
        finally:
            delay.close()

    def _picked(self, start: float, end: float) -> list[tuple[float, float, float]]:
        rows = zip(self.woke, self.late, self.cpu, self.waited, strict=True)
        return [(late, cpu, waited) for woke, late, cpu, waited in rows if start <= woke <= end]

    def summary(self, start: float = 0.0, end: float = float("inf")) -> str:
        rows = self._picked(start, end)
        if not rows:
            return "no samples"
        lags = [late for late, _, _ in rows]
        worst = max(rows)
        unexplained = [max(0.0, late - waited) for late, _, waited in rows]
        return (
            f"max {worst[0]:.1f} ms (over that interval {worst[1]:.1f} ms CPU, "
            f"{worst[2]:.1f} ms waiting for a CPU), p99 {percentile(lags, 99):.1f} ms; "
            f"{sum(lag > 50 for lag in lags)} of {len(lags)} wake-ups > 50 ms late, "
            f"{sum(u > 50 for u in unexplained)} of them by more than the CPU wait"
        )


def step_lines(steps: Iterable[Step], top: int, origin: float = 0.0) -> list[str]:
    return [step.describe(origin) for step in list(steps)[:top]]


# Marks of each action's own steps in their names (task await chains, callbacks).
OWN_STEPS = {
    "persona": "PersonaRegistry",
    "/session list": "show_list",
    "/session export": "export",
}


def report_loop(
    say: Callable[[str], None],
    probe: LoopProbe,
    steps: StepRecorder,
    run: tuple[float, float],
    timed: int,
    windows: list[tuple[str, float, float, str]],
) -> None:
    """The loop's health over the run (sending until all answered) and during each action
    (name, start, end, what it did), each line through `say`."""
    timed_steps = steps.count > 0  # not with asyncio's own loop (--plain-loop)
    if timed_steps:
        say(
            f"event loop over the run: {steps.summary(*run)}; {timed:,} callbacks timed (the "
            f"longest read of the other threads' times, between steps: {steps.reading_ms:.1f} ms)"
        )
    say(f"  probe: {probe.summary(*run)}")
    kept = steps.between(*run)
    ours = sorted((step for step in kept if step.ours), key=lambda step: -step.work)
    sections = [
        ("the steps that held the loop longest:", kept, 6),
        ("the steps of our code that worked longest (less collections and CPU waits):", ours, 4),
    ]
    for title, listed, top in sections if timed_steps else []:
        say(f"  {title}")
        for line in step_lines(listed, top=top, origin=run[0]):
            print(f"    {line}", flush=True)
    for name, began, ended, note in windows:
        say(f"  {name} at {began - run[0]:.1f} s: {note}")
        say(f"    probe meanwhile: {probe.summary(began, ended + 0.05)}")
        if not timed_steps:
            continue
        during = steps.between(began, ended + 0.05)
        mark = next(mark for key, mark in OWN_STEPS.items() if name.startswith(key))
        own = [step for step in during if mark in step.name]
        say(f"    meanwhile: {steps.summary(began, ended + 0.05)}; its own steps kept: {len(own)}")
        for line in step_lines(own, top=3, origin=run[0]):
            print(f"      {line}", flush=True)


def heap() -> str:
    """What each full garbage collection walks: the objects the collector tracks, by type."""
    tracked = gc.get_objects()
    kinds = Counter(type(thing).__qualname__ for thing in tracked).most_common(6)
    most = ", ".join(f"{name} {count:,}" for name, count in kinds)
    return f"heap after the run: {len(tracked):,} objects tracked ({most}); " + (
        f"{gc.get_freeze_count():,} frozen"
    )
