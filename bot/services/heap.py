"""The start-up heap, out of the garbage collector's way.

A service keeps nearly everything it imported and built at start-up (discord.py, openai,
aiohttp, pydantic: about 130,000 objects) for its whole life, and every full collection walks
all of it again: over 100 ms on the event loop, the longest stalls a running bot had
(bench/bench_load.py). `gc.freeze()` moves what exists now to the permanent generation, which
collections skip; those objects are still freed by reference counting if they ever go.
"""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Collect once, then freeze what is left (call when start-up is done)."""
    gc.collect()
    gc.freeze()
