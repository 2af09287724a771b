"""The aiohttp application of the HTTP API, and running it on a host and port."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from bot.api import agents, chat, health, sessions
from bot.api.auth import auth_middleware
from bot.api.errors import error_middleware
from bot.api.limits import url_middleware
from bot.api.protocol import GuardedRequestHandler, name_server
from bot.api.state import STATE, ApiState
from bot.engine import Engine
from bot.metrics import Metrics

__all__ = ["BODY_TIMEOUT", "Listening", "create_app", "listening"]

log = logging.getLogger(__name__)

# When the server stops, requests still running get this long to finish.
_SHUTDOWN_TIMEOUT: Final = 5.0
BODY_TIMEOUT: Final = 10.0
"""Seconds a client has to send the whole body it announced (then 408 and the connection
closes), so that a Content-Length larger than the body cannot hold a connection forever."""


def create_app(
    engine: Engine,
    *,
    token: str,
    max_body: int,
    body_timeout: float = BODY_TIMEOUT,
    metrics: Metrics | None = None,
    metrics_token: str | None = None,
) -> web.Application:
    """The API over `engine`; every request needs `Authorization: Bearer <token>`, except
    `/healthz` and `/metrics` (which needs `metrics_token` instead, when it is given).

    `metrics` should be the engine's observer; without one, a fresh registry is served.
    """
    if not token:
        raise ValueError("the HTTP API needs a token")
    app = web.Application(
        middlewares=[error_middleware, auth_middleware, url_middleware], client_max_size=max_body
    )
    app[STATE] = ApiState(engine=engine, token=token, max_body=max_body, body_timeout=body_timeout)
    app[health.OBSERVED] = health.Observed(metrics=metrics or Metrics(), token=metrics_token)
    app.on_response_prepare.append(name_server)
    app.add_routes(health.routes)
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
    """Serve `app` on host:port (port 0 picks a free one) until the block ends.

    Connections are served by GuardedRequestHandler, which aiohttp's sites cannot be told to
    use; so the socket is opened here, and the runner still shuts the connections down.
    """
    runner = web.AppRunner(app, shutdown_timeout=_SHUTDOWN_TIMEOUT)
    await runner.setup()
    server = runner.server
    assert server is not None  # set up above
    loop = asyncio.get_running_loop()
    try:
        sockets = await loop.create_server(
            lambda: GuardedRequestHandler(server, loop=loop), host, port
        )
        try:
            bound = Listening(host=host, port=int(sockets.sockets[0].getsockname()[1]))
            log.info("HTTP API listening on %s", bound.url)
            yield bound
        finally:
            sockets.close()
    finally:
        await runner.cleanup()
