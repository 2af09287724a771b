"""Session endpoints: create, list, get, patch, replace, create-or-update, delete, history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.api.encoding import json_response
from bot.api.errors import ApiError
from bot.api.history import stream_history
from bot.api.models import SessionCreate, SessionFields, SessionPatch
from bot.api.parsing import path_session_id, read_body
from bot.api.query import integer_param, parse_list_params
from bot.api.service import create_session, patch_session, replace_session
from bot.api.shapes import deleted_json, history_json, session_json
from bot.api.state import state
from bot.engine import Engine
from storage import Session
from storage.errors import DuplicateSession, SessionNotFound

__all__ = ["routes"]

routes = web.RouteTableDef()


def _shaped(engine: Engine, session: Session, agents: list[str]) -> dict[str, Any]:
    return session_json(session, engine.find_persona(session.agent_id), agents)


async def _json(engine: Engine, session: Session, status: int = 200) -> web.Response:
    agents = await engine.cast.ids(session)
    return json_response(_shaped(engine, session, agents), status=status)


@routes.post("/sessions")
async def create(request: web.Request) -> web.Response:
    engine = state(request).engine
    body = await read_body(request, SessionCreate)
    session = await create_session(engine, body)
    return await _json(engine, session, status=201)


@routes.get("/sessions")
async def list_sessions(request: web.Request) -> web.Response:
    engine = state(request).engine
    params = parse_list_params(request.query)
    listing = await engine.session_listing(params.query())
    find = engine.find_persona
    return json_response(
        {"items": [session_json(s, find(s.agent_id), s.agents) for s in listing.items]}
    )


@routes.get("/sessions/{session_id}")
async def get(request: web.Request) -> web.Response:
    engine = state(request).engine
    session = await engine.session(path_session_id(request))
    return await _json(engine, session)


@routes.patch("/sessions/{session_id}")
async def patch(request: web.Request) -> web.Response:
    engine = state(request).engine
    session_id = path_session_id(request)
    body = await read_body(request, SessionPatch)
    current = await engine.session(session_id)
    return await _json(engine, await patch_session(engine, current, body))


@routes.put("/sessions/{session_id}")
async def replace(request: web.Request) -> web.Response:
    engine = state(request).engine
    session_id = path_session_id(request)
    body = await read_body(request, SessionFields)
    current = await engine.session(session_id)
    return await _json(engine, await replace_session(engine, current, body))


@routes.post("/sessions/{session_id}")
async def create_or_update(request: web.Request) -> web.Response:
    engine = state(request).engine
    try:
        session_id = path_session_id(request)
    except ApiError:
        raise ApiError(
            422,
            "invalid_field",
            f"session id: {request.match_info['session_id']!r} is not a UUID.",
            field="session_id",
        ) from None
    body = await read_body(request, SessionCreate)
    try:
        current = await engine.session(session_id)
    except SessionNotFound:
        try:
            session = await create_session(engine, body, session_id=session_id)
        except DuplicateSession:  # another request created it meanwhile: update that one
            current = await engine.session(session_id)
        else:
            return await _json(engine, session, status=201)
    return await _json(engine, await replace_session(engine, current, body))


@routes.delete("/sessions/{session_id}")
async def delete(request: web.Request) -> web.Response:
    engine = state(request).engine
    session_id = path_session_id(request)
    await engine.delete_session(session_id)
    return web.json_response(deleted_json(session_id, datetime.now(UTC)), status=202)


@routes.get("/sessions/{session_id}/history")
async def history(request: web.Request) -> web.StreamResponse:
    """Stored messages, oldest first: `?limit=N` only the latest N, `?before=ID` only those
    older than message ID (page back with the first entry's id). Without a limit the whole
    history is streamed."""
    engine = state(request).engine
    session_id = path_session_id(request)
    limit, before = _history_params(request)
    session = await engine.session(session_id)
    if limit is None:
        return await stream_history(request, engine, session, before=before)
    messages = await engine.history(session_id, limit=limit, before=before)
    return web.json_response(history_json(session, messages))


def _history_params(request: web.Request) -> tuple[int | None, int | None]:
    unknown = set(request.query) - {"limit", "before"}
    if unknown:
        name = sorted(unknown)[0]
        raise ApiError(
            422,
            "invalid_query",
            f"unknown query parameter {name!r}; only limit and before.",
            field=name,
        )
    limit = integer_param(request.query, "limit", 0, low=1, high=2**62) or None
    before = integer_param(request.query, "before", 0, low=1, high=2**63 - 1) or None
    return limit, before


@routes.delete("/sessions/{session_id}/history")
async def clear_history(request: web.Request) -> web.Response:
    engine = state(request).engine
    session_id = path_session_id(request)
    await engine.clear_history(session_id)
    return web.json_response(deleted_json(session_id, datetime.now(UTC)), status=202)
