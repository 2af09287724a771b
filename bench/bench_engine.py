"""Benchmark the engine's own work on a large database.

Builds (or reuses) the store benchmark's database: --messages messages over many sessions, one
session with 10,000 of them. Then measures, with the shipped personas:
  * context assembly for the 10,000-message session (engine.preview: load the session and its
    persona, render the situation, fetch and budget the recent history), for `sara` (30 messages)
    and for a persona with a 200-message window;
  * a whole turn with an in-process model that answers at once: store the user message, build
    the context, stream the reply, store it. This is the engine's overhead per message.

Run:  .venv/bin/python bench/bench_engine.py [--messages 1000000] [--db bench/bench.db --reuse]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_storage import build_or_reuse, dataset_options, elapsed_ms, report

from bot.engine import Engine, Incoming
from bot.engine.chatmodel import ChatRequest, Usage
from situations import PersonaRegistry
from storage import SessionChanges, SessionStore

REPO = Path(__file__).resolve().parent.parent


class InstantStream:
    """A reply that is ready at once: the engine's time is all that is measured."""

    def __init__(self, text: str) -> None:
        self._text = text
        self.usage: Usage | None = Usage(prompt_tokens=1, completion_tokens=3)

    async def __aiter__(self) -> AsyncIterator[str]:
        for word in self._text.split(" "):
            yield word + " "


class InstantModel:
    def stream(self, request: ChatRequest) -> InstantStream:
        return InstantStream("Thanks, tell me more about that.")

    async def complete(self, request: ChatRequest) -> tuple[str, Usage | None]:
        return "summary", None

    async def close(self) -> None:
        return None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    dataset_options(parser)
    parser.add_argument("--samples", type=int, default=1000, help="measured calls per operation")
    return parser.parse_args()


def personas_dir(directory: Path) -> Path:
    target = directory / "personas"
    shutil.copytree(REPO / "personas", target)
    wide = (target / "sara.yaml").read_text(encoding="utf-8")
    wide = wide.replace("max_messages: 30", "max_messages: 200").replace(
        "token_budget: 4000", "token_budget: 100000"
    )
    (target / "sara-wide.yaml").write_text(wide, encoding="utf-8")
    return target


async def timed(samples: int, call: object) -> list[float]:
    results: list[float] = []
    for index in range(samples + 50):
        start = time.perf_counter_ns()
        await call()  # type: ignore[operator]
        if index >= 50:  # the first 50 warm the caches
            results.append(elapsed_ms(start))
    return results


async def measure(path: Path, big: uuid.UUID, personas: Path, samples: int) -> None:
    registry = PersonaRegistry(personas)
    await registry.load()
    async with SessionStore.open(path) as store:
        engine = Engine(
            store=store, personas=registry, model=InstantModel(), default_model="instant"
        )
        print(f"big session: {await store.count_messages(big):,} messages")
        rows = []
        for persona in ("sara", "sara-wide"):
            profile = registry.get(persona)
            changes = SessionChanges(
                agent_id=persona,
                situation=profile.situation,
                persona_version=profile.version,
                summary=None,
                summarized_through=None,
            )
            await store.update_session(big, changes)
            context = await engine.preview(big, place="bench")
            label = f"context, {persona} ({len(context.history)} msgs)"
            rows.append((label, await timed(samples, lambda: engine.preview(big, place="bench"))))

        async def turn() -> None:
            incoming = Incoming(content="How do I sleep better?", author_name="Ana")
            message = await engine.submit(big, incoming)
            await engine.respond(big, message, place="bench").collect()

        rows.append(("whole turn, instant model, summarizing", await timed(samples, turn)))
    report(rows)


def run(path: Path, args: argparse.Namespace, scratch: Path) -> None:
    big = build_or_reuse(path, args)
    asyncio.run(measure(path, big, personas_dir(scratch), args.samples))


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        run(args.db or scratch / "bench.db", args, scratch)


if __name__ == "__main__":
    main()
