"""The Julep v1 sessions API over the engine and store (`sessionbot serve`, or inside `run`).

Front ends use `serving(engine, settings)`: it refuses to start without SESSIONBOT_API_TOKEN,
serves until the block ends and yields where it listens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.api.app import Listening, create_app, listening
from bot.api.errors import ApiError
from bot.config import DEFAULT_API_PORT, Settings
from bot.engine import Engine
from bot.metrics import Metrics

__all__ = ["ApiError", "Listening", "create_app", "listening", "serving"]


@asynccontextmanager
async def serving(
    engine: Engine,
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    metrics: Metrics | None = None,
) -> AsyncIterator[Listening]:
    """Serve the API for `engine` on SESSIONBOT_API_HOST / SESSIONBOT_API_PORT (or the given
    host and port; 8080 if neither names one). ConfigError without a usable token.

    `metrics` (the engine's observer) is served at `/metrics` and feeds `/healthz`."""
    app = create_app(
        engine,
        token=settings.api_secret(),
        max_body=settings.api_max_body,
        metrics=metrics,
        metrics_token=settings.metrics_secret(),
    )
    chosen_port = port if port is not None else settings.api_port
    async with listening(
        app,
        host=host or settings.api_host,
        port=DEFAULT_API_PORT if chosen_port is None else chosen_port,
    ) as bound:
        yield bound
