"""The aiohttp application of the HTTP API, and running it on a host and port."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from bot.api import agents, chat, sessions
from bot.api.auth import auth_middleware
from bot.api.errors import error_middleware
from bot.api.state import STATE, ApiState
from bot.engine import Engine

__all__ = ["Listening", "create_app", "listening"]

log = logging.getLogger(__name__)

# When the server stops, requests still running get this long to finish.
_SHUTDOWN_TIMEOUT = 5.0


def create_app(engine: Engine, *, token: str, max_body: int) -> web.Application:
    """The API over `engine`; every request needs `Authorization: Bearer <token>`."""
    if not token:
        raise ValueError("the HTTP API needs a token")
    app = web.Application(middlewares=[error_middleware, auth_middleware], client_max_size=max_body)
    app[STATE] = ApiState(engine=engine, token=token, max_body=max_body)
    app.add_routes(sessions.routes)
    app.add_routes(chat.routes)
    app.add_routes(agents.routes)
    return app


@dataclass(frozen=True)
class Listening:
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


@asynccontextmanager
async def listening(app: web.Application, *, host: str, port: int) -> AsyncIterator[Listening]:
    """Serve `app` on host:port (port 0 picks a free one) until the block ends."""
    runner = web.AppRunner(app, shutdown_timeout=_SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        address = runner.addresses[0]
        bound = Listening(host=host, port=int(address[1]))
        log.info("HTTP API listening on %s", bound.url)
        yield bound
    finally:
        await runner.cleanup()
