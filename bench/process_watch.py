"""What the load and memory benchmarks watch in the bot's own process: memory, load average.

RSS figures come from /proc/self/status (peak: VmHWM, which `reset_peak` resets). The event
loop's health is loop_probe.py's. `memory_split` tells what the resident memory is: code and
files mapped in, CPython's small-object arenas (and how much of them live objects fill), and
the C allocator's heap (malloc: SQLite, OpenSSL, large Python objects, other threads' arenas).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


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


@dataclass(frozen=True)
class MemorySplit:
    """This process's resident memory by kind, in MiB."""

    rss: float
    files: float  # mapped files: the interpreter, extension modules, shared libraries
    arenas: float | None  # CPython's small-object arenas (pymalloc), resident
    live: float | None  # of which live objects fill this much (the rest is free in them)
    heap: float  # the rest of the anonymous memory: malloc's heaps and mmaps, stacks

    def __str__(self) -> str:
        if self.arenas is None or self.live is None:  # tracemalloc replaces the allocator
            return (
                f"RSS {self.rss:.1f} MiB = files {self.files:.1f} + anonymous {self.heap:.1f} "
                "(no split of it while tracemalloc traces)"
            )
        return (
            f"RSS {self.rss:.1f} MiB = files {self.files:.1f} + small-object arenas "
            f"{self.arenas:.1f} (live objects {self.live:.1f}, free in them "
            f"{self.arenas - self.live:.1f}) + malloc and other {self.heap:.1f}"
        )


def memory_split() -> MemorySplit:
    """What the RSS is made of (from /proc/self/smaps and CPython's allocator statistics)."""
    files = anonymous = 0
    file_backed = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        first = line.split(maxsplit=1)[0]
        if "-" in first and not first.endswith(":"):  # a mapping's header line
            fields = line.split()
            file_backed = len(fields) > 5 and fields[5].startswith("/")
        elif first == "Rss:":
            kib = int(line.split()[1])
            if file_backed:
                files += kib
            else:
                anonymous += kib
    pymalloc = _pymalloc()
    if pymalloc is None:
        return MemorySplit(rss_mib(), files / 1024, None, None, anonymous / 1024)
    # Arenas are mmap'ed and touched as they fill; count them resident up to the anonymous RSS.
    arenas = min(pymalloc[0], anonymous / 1024)
    return MemorySplit(rss_mib(), files / 1024, arenas, pymalloc[1], anonymous / 1024 - arenas)


def _pymalloc() -> tuple[float, float] | None:
    """CPython's small-object allocator: MiB of arenas allocated, MiB of live blocks in them
    (None if it does not say: tracemalloc is tracing).

    `sys._debugmallocstats()` writes to the C stderr, so fd 2 is pointed at a file meanwhile.
    """
    with tempfile.TemporaryFile() as scratch:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(scratch.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        scratch.seek(0)
        text = scratch.read().decode()
    arenas = re.search(r"(\d+) arenas \* (\d+) bytes/arena", text)
    live = re.search(r"# bytes in allocated blocks\s*=\s*([\d,]+)", text)
    if arenas is None or live is None:
        return None
    allocated = int(arenas[1]) * int(arenas[2])
    return allocated / 2**20, int(live[1].replace(",", "")) / 2**20


def malloc_trim() -> float:
    """Ask glibc to return its free heap memory to the system; MiB the RSS fell by (0 if this
    is not glibc). A measurement of what the C allocator holds free, not a fix."""
    name = ctypes.util.find_library("c")
    if name is None:
        return 0.0
    libc = ctypes.CDLL(name)
    if not hasattr(libc, "malloc_trim"):
        return 0.0
    before = rss_mib()
    libc.malloc_trim(0)
    return before - rss_mib()


def open_sockets() -> int:
    """How many sockets this process has open (keep-alive HTTP connections, the gateway)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            continue
    return count
