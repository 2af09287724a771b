"""What every handler needs, stored once on the aiohttp application."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot.engine import Engine

__all__ = ["STATE", "ApiState", "state"]


@dataclass(frozen=True)
class ApiState:
    engine: Engine
    token: str
    max_body: int
    body_timeout: float


STATE = web.AppKey("sessionbot_api_state", ApiState)


def state(request: web.Request) -> ApiState:
    return request.app[STATE]
