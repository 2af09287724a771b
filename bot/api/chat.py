"""Chat and render: the engine answers API messages exactly as it answers Discord messages.

`POST /sessions/{id}/chat` stores each user message (`engine.submit`), then runs the reply to
the last one (`engine.respond`), which is stored when the model finishes. With `stream: true`
the reply arrives as server-sent events in the julep SDK's ChunkChatResponse shape: one JSON
object per event, no `[DONE]` sentinel (the SDK parses every event as JSON), and a failure after
the first token arrives as a last event with an `error` object.
"""

from __future__ import annotations

import json
import logging
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from aiohttp import web

from bot.api.errors import error_body, from_domain
from bot.api.models import ChatBody, ChatMessageIn, RenderBody
from bot.api.parsing import path_session_id, read_body
from bot.api.shapes import chat_json, chunk_json, render_json, usage_json
from bot.api.state import state
from bot.engine import Incoming, Turn
from bot.engine.context import render_history
from bot.engine.errors import SessionbotError
from storage import Message, Role, Session
from storage.errors import StorageError

__all__ = ["PLACE", "routes"]

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

# The `place` template variable of replies written for API clients.
PLACE = "api"


def _incoming(session: Session, message: ChatMessageIn) -> Incoming:
    """A person's name in the context: the message's `name`, else the session's user id."""
    return Incoming(
        content=message.text,
        author_name=message.name or session.user_id or "user",
        author_id=session.user_id,
    )


@routes.post("/sessions/{session_id}/chat")
async def chat(request: web.Request) -> web.StreamResponse:
    engine = state(request).engine
    session_id = path_session_id(request)
    body = await read_body(request, ChatBody)
    session = await engine.session(session_id)
    # One chat of a session at a time, in every `serve` process: its messages, then its reply.
    async with engine.holds.hold(session_id):
        stored: Message | None = None
        for message in body.messages:
            stored = await engine.submit(session_id, _incoming(session, message))
        assert stored is not None  # the body has at least one message
        speaker = await engine.cast.speaker(session, stored.content)  # named, else main
        turn = engine.respond(session_id, stored, place=PLACE, speaker=speaker)
        response_id = uuid4()
        if body.stream:
            return await _stream(request, turn, response_id)
        await turn.collect()
    assert turn.reply is not None
    usage = usage_json(turn.usage, turn.context, turn.reply)
    return web.json_response(chat_json(response_id, turn.reply, usage))


class _Events:
    """Writes server-sent events; once the client has gone, writes are skipped so the turn
    still runs to the end and its reply is stored, as it would be in Discord."""

    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response
        self.client_gone = False

    async def send(self, payload: dict[str, Any]) -> None:
        if self.client_gone:
            return
        data = json.dumps(payload, ensure_ascii=False)
        try:
            await self.response.write(f"data: {data}\n\n".encode())
        except ConnectionResetError:
            self.client_gone = True
            log.info("API: a chat stream's client went away; the reply is still stored")

    async def close(self) -> None:
        if not self.client_gone:
            try:
                await self.response.write_eof()
            except ConnectionResetError:
                self.client_gone = True


async def _stream(request: web.Request, turn: Turn, response_id: UUID) -> web.StreamResponse:
    created = datetime.now(UTC)
    async with aclosing(turn.stream()) as deltas:
        # Until the first token, a failure is still an ordinary JSON error response.
        first = await anext(deltas, None)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        events = _Events(response)
        if first:
            await events.send(chunk_json(response_id, created, first))
        try:
            async for delta in deltas:
                await events.send(chunk_json(response_id, created, delta))
        except (SessionbotError, StorageError) as exc:
            error = from_domain(exc)
            log.warning("API: chat stream for session %s failed: %s", turn.session_id, exc)
            payload = error_body(error.code, error.message)["error"]
            await events.send(chunk_json(response_id, created, "", error=payload))
        except Exception:
            log.exception("API: chat stream for session %s failed", turn.session_id)
            payload = error_body("internal_error", "The reply failed; the error was logged.")
            await events.send(chunk_json(response_id, created, "", error=payload["error"]))
        else:
            usage = usage_json(turn.usage, turn.context, turn.reply)
            await events.send(
                chunk_json(response_id, created, "", finish_reason="stop", usage=usage)
            )
    await events.close()
    return response


@routes.post("/sessions/{session_id}/render")
async def render(request: web.Request) -> web.Response:
    """The exact messages the next reply would send to the model; no model call, nothing stored.

    Messages in the body are appended as the engine would show them once stored; the
    context budget is applied to the stored history only.
    """
    engine = state(request).engine
    session_id = path_session_id(request)
    body = await read_body(request, RenderBody)
    session = await engine.session(session_id)
    context = await engine.preview(session_id, place=PLACE)
    now = datetime.now(UTC)
    pending = [
        Message(
            id=0,
            session_id=session_id,
            role=Role.USER,
            author_id=incoming.author_id,
            author_name=incoming.author_name,
            content=incoming.content,
            created_at=now,
            external_id=None,
            tokens=0,
            tokens_source="estimate",
        )
        for incoming in (_incoming(session, message) for message in body.messages)
    ]
    return web.json_response(render_json(context, render_history(pending)))
