"""The CLI's only way to write to the terminal (logging goes to stderr separately)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterable
from typing import Any, TextIO


class CommandError(Exception):
    """A command failed in an expected way: one line, an optional hint, an exit status."""

    def __init__(self, message: str, *, hint: str | None = None, status: int = 1) -> None:
        super().__init__(message)
        self.hint = hint
        self.status = status


def out(text: str = "", *, end: str = "\n") -> None:
    sys.stdout.write(text + end)
    sys.stdout.flush()


def err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


async def write_chunks(chunks: AsyncIterable[str], stream: TextIO) -> None:
    """Write text as it arrives, each chunk off the event loop, then flush."""
    async for chunk in chunks:
        await asyncio.to_thread(stream.write, chunk)
    await asyncio.to_thread(stream.flush)


def out_json(value: Any) -> None:
    out(json.dumps(value, indent=2, ensure_ascii=False))


def table(rows: list[list[str]], headers: list[str]) -> None:
    """A plain, aligned text table."""
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    for row in [headers, *rows]:
        out("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
