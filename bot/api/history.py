"""`GET /sessions/{id}/history` without a limit: the whole history, streamed in batches."""

from __future__ import annotations

import json

from aiohttp import web

from bot.api.shapes import entry_json, history_json
from bot.engine import Engine
from storage import Session

__all__ = ["stream_history"]

_ENTRIES = '"entries": []'


async def stream_history(
    request: web.Request, engine: Engine, session: Session, *, before: int | None
) -> web.StreamResponse:
    """The same bytes as `web.json_response(history_json(...))`, written a batch at a time, so a
    history of any length is sent in bounded memory."""
    batches = engine.history_batches(session.id, before=before)
    first = await anext(batches, None)  # errors (e.g. a session deleted meanwhile) before headers
    head, _, tail = json.dumps(history_json(session, [])).partition(_ENTRIES)
    response = web.StreamResponse(headers={"Content-Type": "application/json; charset=utf-8"})
    await response.prepare(request)
    await response.write(f'{head}"entries": ['.encode())
    batch = first
    separator = ""
    while batch is not None:
        text = ", ".join(json.dumps(entry_json(message)) for message in batch)
        await response.write(f"{separator}{text}".encode())
        separator = ", "
        batch = await anext(batches, None)
    await response.write(f"]{tail}".encode())
    await response.write_eof()
    return response
