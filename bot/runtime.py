"""Opening and closing the shared resources, in one place, for every front end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import storage
from bot.config import ConfigError, Settings
from bot.engine import Engine
from bot.engine.chatmodel import ChatModel
from bot.engine.events import NO_EVENTS, EngineEvents
from bot.engine.quota import Quota
from situations import PersonaRegistry, TemplateRenderer
from storage import DatabaseLocation, Store
from storage.copying import CopyableStore
from storage.errors import NotSessionbotDatabase
from storage.postgres import POSTGRES_OPEN_ERRORS

log = logging.getLogger(__name__)

_OPEN_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    sqlite3.Error,
    NotSessionbotDatabase,
    *POSTGRES_OPEN_ERRORS,
)


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Store]:
    """The store SESSIONBOT_DATABASE names (SQLite or PostgreSQL), closed on exit."""
    async with open_location(settings.database_location(), "SESSIONBOT_DATABASE") as store:
        yield store


@asynccontextmanager
async def open_location(
    location: DatabaseLocation, name: str = "SESSIONBOT_DATABASE"
) -> AsyncIterator[CopyableStore]:
    """The store at `location`, closed on exit; ConfigError (naming `name`) if it cannot open."""
    try:
        store = await storage.open_store(location)
    except _OPEN_ERRORS as exc:
        raise ConfigError(f"{name}: cannot open {location}: {exc}") from None
    try:
        yield store
    finally:
        await store.close()


async def load_personas(
    settings: Settings, renderer: TemplateRenderer | None = None
) -> PersonaRegistry:
    """Load every persona; bad files are logged (by the registry) and skipped.

    ``renderer`` test-renders template situations as they load (a temporary one per load if
    None).
    """
    if not await asyncio.to_thread(settings.personas.is_dir):
        raise ConfigError(f"SESSIONBOT_PERSONAS: {settings.personas} is not a directory")
    registry = PersonaRegistry(settings.personas, renderer)
    await registry.load()
    return registry


@asynccontextmanager
async def open_model(settings: Settings) -> AsyncIterator[ChatModel]:
    from bot.llm import OpenAIChatModel  # the SDK is slow to import; only chatting needs it

    model = OpenAIChatModel(
        base_url=settings.openai_base_url,
        api_key=settings.api_key(),
        timeout=settings.llm_timeout,
        max_retries=settings.llm_retries,
    )
    try:
        yield model
    finally:
        await model.close()


async def _watch(registry: PersonaRegistry, stop: asyncio.Event) -> None:
    """Watch until stopped; if watching fails, the personas loaded so far stay in service."""
    try:
        await registry.watch(stop)
    except Exception:
        log.exception("persona hot reload stopped; the loaded personas stay, restart to resume")


@asynccontextmanager
async def watching(registry: PersonaRegistry) -> AsyncIterator[None]:
    """Hot-reload the personas directory while the block runs."""
    stop = asyncio.Event()
    task = asyncio.create_task(_watch(registry, stop), name="persona-watch")
    try:
        yield
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@asynccontextmanager
async def open_engine(
    settings: Settings, *, watch: bool = True, events: EngineEvents = NO_EVENTS
) -> AsyncIterator[Engine]:
    """Store, personas and model wired into an engine that tells `events` about its turns;
    closed in reverse order on exit.

    One template renderer serves the engine and the persona registry; its worker process is
    stopped last.
    """
    default_model = settings.chat_model()
    async with contextlib.AsyncExitStack() as stack:
        renderer = TemplateRenderer()
        stack.push_async_callback(renderer.aclose)
        personas = await load_personas(settings, renderer)
        store = await stack.enter_async_context(open_store(settings))
        model = await stack.enter_async_context(open_model(settings))
        if watch:
            await stack.enter_async_context(watching(personas))
        yield Engine(
            store=store,
            personas=personas,
            model=model,
            default_model=default_model,
            default_persona=settings.default_persona,
            renderer=renderer,
            events=events,
            quota=Quota(settings.quota_limits()),
        )
