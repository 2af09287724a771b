"""Agent endpoints: the loaded personas, read-only, in Julep's agent shape."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.api.query import parse_list_params
from bot.api.service import lookup_agent
from bot.api.shapes import agent_json
from bot.api.state import state
from situations import AgentProfile

__all__ = ["routes"]

routes = web.RouteTableDef()


def _changed_at(paths: Sequence[Path]) -> list[datetime]:
    """Each file's modification time (now, for a file removed since it was loaded)."""
    times = []
    for path in paths:
        try:
            times.append(datetime.fromtimestamp(os.stat(path).st_mtime, UTC))
        except OSError:
            times.append(datetime.now(UTC))
    return times


async def _agents_json(request: web.Request, profiles: list[AgentProfile]) -> list[dict[str, Any]]:
    engine = state(request).engine
    times = await asyncio.to_thread(_changed_at, [profile.source for profile in profiles])
    return [
        agent_json(profile, engine.default_model, changed)
        for profile, changed in zip(profiles, times, strict=True)
    ]


def _matches(profile: AgentProfile, wanted: dict[str, Any]) -> bool:
    """Exact matches, as for sessions: the string "1" is not the number 1, nor true 1."""
    return all(
        key in profile.metadata
        and profile.metadata[key] == value
        and isinstance(profile.metadata[key], bool) == isinstance(value, bool)
        for key, value in wanted.items()
    )


@routes.get("/agents")
async def list_agents(request: web.Request) -> web.Response:
    """Personas by id (`sort_by` and `direction` order by file time), with Julep's paging."""
    params = parse_list_params(request.query, sessions=False)
    profiles = [
        profile
        for profile in state(request).engine.list_personas()
        if _matches(profile, params.metadata_filter)
    ]
    items = await _agents_json(request, profiles)
    if "sort_by" in request.query or "direction" in request.query:
        items.sort(key=lambda item: (item[params.sort_by], item["id"]))
        if params.direction == "desc":
            items.reverse()
    return web.json_response({"items": items[params.offset : params.offset + params.limit]})


@routes.get("/agents/{agent_id}")
async def get_agent(request: web.Request) -> web.Response:
    profile = lookup_agent(state(request).engine, request.match_info["agent_id"])
    (item,) = await _agents_json(request, [profile])
    return web.json_response(item)
