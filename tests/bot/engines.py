"""Engines and API servers for tests: the real openai client pointed at the fake model server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from aiohttp import web

from bot.api import listening
from bot.engine import Engine
from bot.llm import OpenAIChatModel
from situations import PersonaRegistry
from storage import Store
from tests.fakes.openai_server import FakeOpenAI


@asynccontextmanager
async def engine_over(
    store: Store, personas: PersonaRegistry, fake: FakeOpenAI, **options: Any
) -> AsyncIterator[Engine]:
    """An engine on `store` whose model is the fake server; closed, with its client, on exit."""
    model = OpenAIChatModel(base_url=fake.base_url, api_key="sk-test", max_retries=0)
    engine = Engine(
        store=store, personas=personas, model=model, default_model="test-model", **options
    )
    try:
        yield engine
    finally:
        await engine.close()
        await model.close()


@dataclass(frozen=True)
class Served:
    url: str
    http: httpx.AsyncClient
    """Sends `Authorization: Bearer <token>`; `bare` sends no token."""
    bare: httpx.AsyncClient


@asynccontextmanager
async def served(app: web.Application, token: str) -> AsyncIterator[Served]:
    """`app` listening on 127.0.0.1 (a free port), with an authorized and a bare client."""
    async with listening(app, host="127.0.0.1", port=0) as bound:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx.AsyncClient(base_url=bound.url, headers=headers) as http,
            httpx.AsyncClient(base_url=bound.url) as bare,
        ):
            yield Served(url=bound.url, http=http, bare=bare)
