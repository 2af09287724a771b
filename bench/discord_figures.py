"""The Discord benchmark's figures: sessionbot's, the floor benchmark's, and their ratios.

The floor benchmark (../shared/floor/bench_pipeline.py) prints a last line of JSON: s50/s99
(serial wall ms p50/p99), scpu (bot CPU ms per message), sthr (serial messages/s) and
c50/c99/ccpu/cthr (the same with C conversations at once). `Figures` holds sessionbot's
figures under the same keys, so the two line up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

NAMES = {
    "s50": "serial wall p50 ms",
    "s99": "serial wall p99 ms",
    "scpu": "serial bot CPU ms/msg",
    "sthr": "serial msgs/s",
    "c50": "C=20 wall p50 ms",
    "c99": "C=20 wall p99 ms",
    "ccpu": "C=20 bot CPU ms/msg",
    "cthr": "C=20 msgs/s",
}


def percentile(values: list[float], p: float) -> float:
    """The floor benchmark's percentile: the value at index p% of the sorted list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass
class Figures:
    """Sessionbot's figures, keyed as the floor's JSON, plus the other concurrent phases."""

    values: dict[str, float] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def add_serial(self, latencies: list[float], cpu: float, wall: float, fakes_cpu: float) -> None:
        count = len(latencies)
        self.values |= {
            "s50": percentile(latencies, 50),
            "s99": percentile(latencies, 99),
            "scpu": cpu * 1000 / count,
            "sthr": count / wall,
        }
        self.lines.append(
            f"serial, {count} messages in the 10,000-message session: wall p50 "
            f"{self.values['s50']:.2f} ms, p99 {self.values['s99']:.2f} ms; bot CPU "
            f"{self.values['scpu']:.2f} ms/msg (fakes {fakes_cpu * 1000 / count:.2f}); "
            f"{self.values['sthr']:.0f} msgs/s"
        )

    def add_concurrent(
        self, label: str, latencies: list[float], times: tuple[float, float, float], problems: int
    ) -> None:
        """`times`: the bot's and the fakes' CPU seconds, and the wall seconds of the phase."""
        cpu, fakes_cpu, wall = times
        count = len(latencies)
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        per_message, rate = cpu * 1000 / count, count / wall
        if label.startswith("C=20 "):
            self.values |= {"c50": p50, "c99": p99, "ccpu": per_message, "cthr": rate}
        self.lines.append(
            f"{label}, {count} messages: wall p50 {p50:.1f} ms, "
            f"p99 {p99:.1f} ms; bot CPU {per_message:.2f} ms/msg (fakes "
            f"{fakes_cpu * 1000 / count:.2f}); {rate:.0f} msgs/s; "
            f"conversations with a lost, extra or out-of-order reply: {problems}"
        )

    def report(self) -> None:
        print("\nsessionbot (bot process only; fakes in another process):")
        for line in self.lines:
            print(f"  {line}")
        print(json.dumps({k: round(v, 3) for k, v in self.values.items()}), flush=True)


def run_floor(
    folder: Path, serial: int, concurrent: int, conversations: int, runs: int
) -> dict[str, float] | None:
    """Run the floor benchmark with this Python; its JSON figures, or None without it."""
    script = folder / "bench_pipeline.py"
    if not script.exists():
        print(f"\nfloor benchmark not found at {script}; skipped")
        return None
    print(f"\nfloor: {script.name} {serial} {concurrent} {conversations} {runs}", flush=True)
    args = [str(a) for a in (serial, concurrent, conversations, runs)]
    done = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    for line in done.stdout.splitlines():
        print(f"  {line}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def compare(ours: Figures, floor: dict[str, float]) -> None:
    """Both sets side by side; each ratio reads "sessionbot costs N times the floor"."""
    print("\nratio = sessionbot/floor for times and CPU, floor/sessionbot for msgs/s")
    print("(so > 1 always means sessionbot does worse than the floor by that factor)")
    print(f"{'':26} {'sessionbot':>11} {'floor':>9} {'ratio':>7}")
    for key, name in NAMES.items():
        if key not in ours.values or key not in floor:
            continue
        mine, base = ours.values[key], floor[key]
        ratio = base / mine if key.endswith("thr") else mine / base
        print(f"{name:26} {mine:>11.2f} {base:>9.2f} {ratio:>7.2f}")
