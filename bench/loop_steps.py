"""The records behind loop_probe.py: each slow step of the event loop, and why it was slow.

`StepRecorder.wrap` times a callback: wall time, the loop thread's CPU time, and its wait for a
CPU (runnable but not running: the process not scheduled, which is not the step's doing), from
the thread's scheduler statistics (Linux /proc/thread-self/schedstat). A step that held the
loop `keep_ms` or more (wall time less that wait) is kept as a `Step`, with the garbage
collections that overlapped it (`gc.callbacks`), the other threads' CPU time and waits over it
(a thread holding the GIL, running or waiting for a CPU, keeps the loop waiting too) and the
process's major page faults.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import CoroutineType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OURS = tuple(f"{REPO}/{package}/" for package in ("bot", "storage", "situations"))
THREADS_EVERY_NS = 10_000_000  # how stale the other threads' times may be when a step starts


class RunDelay:
    """The calling thread's total wait for a CPU so far (ns), from its schedstat file."""

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        except OSError:  # not Linux, or no scheduler statistics: waits count as 0
            self._fd = None

    def __call__(self) -> int:
        if self._fd is None:
            return 0
        return int(os.pread(self._fd, 64, 0).split()[1])

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class OtherThreads:
    """The other threads of this process, their CPU time and their waits for a CPU (ns): a
    thread that holds the GIL, running or waiting for a CPU, keeps the loop waiting too."""

    def __init__(self) -> None:
        self._me = threading.get_native_id()
        self._files: dict[int, int] = {}  # thread id -> open schedstat file
        self._threads: set[int] = set()
        self._listed = 0.0

    def times(self) -> dict[int, tuple[int, int]]:
        if time.perf_counter() - self._listed > 1.0:  # threads come and go seldom
            try:
                self._threads = {int(name) for name in os.listdir("/proc/self/task")} - {self._me}
            except OSError:
                return {}
            self._listed = time.perf_counter()
            for gone in self._files.keys() - self._threads:
                os.close(self._files.pop(gone))
        threads = self._threads
        times: dict[int, tuple[int, int]] = {}
        for thread in threads:
            try:
                if thread not in self._files:
                    path = f"/proc/self/task/{thread}/schedstat"
                    self._files[thread] = os.open(path, os.O_RDONLY)
                ran, waited = os.pread(self._files[thread], 64, 0).split()[:2]
                times[thread] = (int(ran), int(waited))
            except (OSError, ValueError):  # ended meanwhile
                continue
        return times

    def close(self) -> None:
        for file in self._files.values():
            os.close(file)
        self._files.clear()


@dataclass(slots=True)
class Step:
    """One callback that held the loop for at least `keep_ms`; times in ms."""

    began: float  # perf_counter s
    wall: float
    cpu: float  # the loop thread's CPU time
    waited: float  # runnable, waiting for a CPU
    collected: float  # garbage collection (in any thread) during the step
    others_ran: float  # the process's other threads' CPU time, over the step at least
    others_waited: float  # their waits for a CPU, over the step at least
    faults: int  # the process's major page faults (a page read from disk), over the step at least
    name: str
    ours: bool  # a frame of bot/, storage/ or situations/ in its await chain or sampled stacks
    stacks: Counter[tuple[str, ...]] = field(default_factory=Counter)

    @property
    def held(self) -> float:
        """Wall time less the wait for a CPU: the step's own work, blocking calls included."""
        return max(0.0, self.wall - self.waited)

    @property
    def off_cpu(self) -> float:
        """Held but not running: a blocking call, or waiting for the GIL."""
        return max(0.0, self.held - self.cpu)

    @property
    def work(self) -> float:
        """What the step held the loop for, less garbage collection and less the off-CPU time
        the other threads' waits for a CPU can explain (a GIL holder not scheduled)."""
        excused = min(self.off_cpu, self.others_waited)
        return max(0.0, self.held - excused - self.collected)

    def describe(self, origin: float = 0.0) -> str:
        whose = "ours" if self.ours else "not ours"
        text = (
            f"at {self.began - origin:.1f} s, {self.held:.1f} ms held: {self.cpu:.1f} ms CPU + "
            f"{self.off_cpu:.1f} ms off-CPU, "
            f"{min(self.held, self.collected):.1f} ms of it garbage collection; work "
            f"{self.work:.1f} ms. Waits for a CPU: the loop thread {self.waited:.1f} ms, the "
            f"other threads {self.others_waited:.1f} ms (they ran {self.others_ran:.1f} ms); "
            f"{self.faults} major page fault(s). [{whose}] {self.name}"
        )
        if self.stacks:
            stack, _ = self.stacks.most_common(1)[0]
            text += f"\n        sampled {sum(self.stacks.values())}x, most often in:"
            text += "".join(f"\n          {frame}" for frame in stack)
        return text


@dataclass(slots=True)
class Collection:
    """One garbage collection of 1 ms or more (perf_counter s)."""

    began: float
    ended: float
    cpu: float  # ms, of the thread that collected
    generation: int
    collected: int  # unreachable objects found and freed

    def overlap_ms(self, began: float, ended: float) -> float:
        return max(0.0, min(ended, self.ended) - max(began, self.began)) * 1000


class StepRecorder:
    """Times the callbacks handed to `wrap`; keeps the steps that held the loop over `keep_ms`,
    and the garbage collections of 1 ms or more (which run in whichever step allocates)."""

    def __init__(self, keep_ms: float = 5.0) -> None:
        self.keep_ns = int(keep_ms * 1e6)
        self.steps: list[Step] = []
        self.collections: list[Collection] = []
        self.count = 0  # callbacks run
        self.running: tuple[int, float] | None = None  # (serial, perf_counter start) of the current
        self.samples: dict[int, Counter[tuple[str, ...]]] = {}  # by serial, from the sampler
        self._delay: RunDelay | None = None
        self._collecting = (0.0, 0.0)  # perf_counter, thread_time at the start of a collection
        self._threads: OtherThreads | None = None
        self._thread_times: dict[int, tuple[int, int]] = {}
        self._threads_read = 0  # perf_counter_ns of _thread_times
        self._faults = 0
        self.reading_ms = 0.0  # the longest read of the other threads' times (bench overhead)

    def attach(self) -> None:
        """Call in the loop's thread before it runs (the schedstat file is that thread's)."""
        self._delay = RunDelay()
        self._threads = OtherThreads()
        gc.callbacks.append(self._collected)

    def close(self) -> None:
        if self._collected in gc.callbacks:
            gc.callbacks.remove(self._collected)
        if self._delay is not None:
            self._delay.close()
        if self._threads is not None:
            self._threads.close()

    def _collected(self, phase: str, info: dict[str, int]) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if phase == "start":
            self._collecting = (now, cpu)
        elif now - self._collecting[0] >= 0.001:
            began, cpu_began = self._collecting
            spent = (cpu - cpu_began) * 1000
            found = info["collected"]
            self.collections.append(Collection(began, now, spent, info["generation"], found))

    def wrap(self, callback: Callable[..., object]) -> Callable[..., None]:
        recorder = self

        def timed(*args: Any) -> None:
            delay = recorder._delay
            if delay is None:  # not attached yet
                callback(*args)
                return
            recorder.count += 1
            serial = recorder.count
            if time.perf_counter_ns() - recorder._threads_read > THREADS_EVERY_NS:
                recorder._read_threads()  # between steps: not part of this one's times
            began, cpu, waited = time.perf_counter_ns(), time.thread_time_ns(), delay()
            recorder.running = (serial, began / 1e9)
            try:
                callback(*args)
            finally:
                recorder.running = None
                waited = delay() - waited
                wall = time.perf_counter_ns() - began
                if wall - waited >= recorder.keep_ns:
                    cpu = time.thread_time_ns() - cpu
                    recorder._keep(serial, callback, args, (began, wall, cpu, waited))
                elif recorder.samples:
                    recorder.samples.pop(serial, None)

        return timed

    def _read_threads(self) -> None:
        if self._threads is not None:
            began = time.perf_counter_ns()
            self._thread_times = self._threads.times()
            self._faults = resource.getrusage(resource.RUSAGE_SELF).ru_majflt
            self._threads_read = time.perf_counter_ns()
            self.reading_ms = max(self.reading_ms, (self._threads_read - began) / 1e6)

    def _others(self) -> tuple[float, float]:
        """ms the other threads ran and waited for a CPU since they were last read (before the
        step began)."""
        if self._threads is None:
            return 0.0, 0.0
        before, now = self._thread_times, self._threads.times()
        ran = waited = 0
        for thread, (ran_now, waited_now) in now.items():
            ran_before, waited_before = before.get(thread, (0, 0))
            ran, waited = ran + ran_now - ran_before, waited + waited_now - waited_before
        return ran / 1e6, waited / 1e6

    def _keep(
        self,
        serial: int,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        times: tuple[int, int, int, int],
    ) -> None:
        began, wall, cpu, waited = times
        name, frames = describe(callback, args)
        stacks = self.samples.pop(serial, Counter())
        sampled = [frame for stack in stacks for frame in stack]
        ours = any(frame.startswith(("bot/", "storage/", "situations/")) for frame in sampled)
        ours = ours or any(path.startswith(OURS) for path in frames)
        start, end = began / 1e9, (began + wall) / 1e9
        collected = 0.0
        for collection in reversed(self.collections):
            if collection.ended < start:
                break
            collected += collection.overlap_ms(start, end)
        times_ms = (wall / 1e6, cpu / 1e6, waited / 1e6, collected, *self._others())
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_majflt - self._faults
        self.steps.append(Step(start, *times_ms, faults, name, ours, stacks))

    def between(self, start: float = 0.0, end: float = float("inf")) -> list[Step]:
        """The kept steps that began between `start` and `end`, longest held first."""
        kept = [step for step in self.steps if start <= step.began <= end]
        return sorted(kept, key=lambda step: step.held, reverse=True)

    def summary(self, start: float = 0.0, end: float = float("inf")) -> str:
        steps = self.between(start, end)
        if not steps:
            return f"no step held the loop {self.keep_ns / 1e6:.0f} ms or more"
        ours = sorted((step for step in steps if step.ours), key=lambda step: -step.work)
        full = [c for c in self.collections if start <= c.began <= end and c.generation == 2]
        longest = max(full, key=lambda c: c.ended - c.began, default=None)
        collections = (
            f"{len(full)} full garbage collection(s), the longest {longest.cpu:.1f} ms CPU "
            f"({(longest.ended - longest.began) * 1000:.1f} ms wall, {longest.collected:,} "
            f"unreachable objects freed; {sum(c.collected for c in full):,} in all)"
            if longest
            else "no full garbage collection"
        )
        own = f"{ours[0].work:.1f} ms" if ours else "none kept"
        return (
            f"longest step held the loop {steps[0].held:.1f} ms, {sum(s.held > 50 for s in steps)}"
            f" step(s) over 50 ms, {len(steps)} over {self.keep_ns / 1e6:.0f} ms; the longest "
            f"work of a step of ours {own}; {collections}"
        )


def describe(callback: Callable[..., object], args: tuple[Any, ...]) -> tuple[str, list[str]]:
    """A readable name for a callback, and the source files of its await chain (if a task's)."""
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        chain = await_chain(owner.get_coro())
        names = " > ".join(name for name, _ in chain) or repr(owner.get_coro())
        return f"task {owner.get_name()}: {names}", [path for _, path in chain]
    function = getattr(callback, "__func__", callback)
    name = getattr(function, "__qualname__", type(callback).__qualname__)
    module = getattr(function, "__module__", None) or ""
    target = f" of {type(owner).__qualname__}" if owner is not None else ""
    extra = f" ({type(args[0]).__qualname__})" if args else ""
    code = getattr(function, "__code__", None)
    return f"{module}.{name}{target}{extra}", [code.co_filename] if code else []


def await_chain(awaitable: object, depth: int = 30) -> list[tuple[str, str]]:
    """(qualified name at line, file) of each coroutine or async generator awaited in turn."""
    chain: list[tuple[str, str]] = []
    while awaitable is not None and len(chain) < depth:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "ag_frame", None)
        code = getattr(awaitable, "cr_code", None) or getattr(awaitable, "ag_code", None)
        if code is None:
            break
        line = f":{frame.f_lineno}" if frame is not None else ""
        chain.append((f"{code.co_qualname}{line}", code.co_filename))
        if isinstance(awaitable, CoroutineType):
            awaitable = awaitable.cr_await
        else:
            awaitable = getattr(awaitable, "ag_await", None) or getattr(awaitable, "cr_await", None)
    return [(name, path) for name, path in chain if "/asyncio/" not in path]
