"""A real API server on 127.0.0.1 (port 0) over a real store (a SQLite file, and a PostgreSQL
database), real persona files and the fake OpenAI-compatible server; clients are the official
julep SDK and plain httpx."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from julep import AsyncJulep

from bot.api import create_app
from bot.engine import Engine
from situations import PersonaRegistry
from storage import Store, opened_store
from tests.bot.engines import engine_over, served
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import REPO, write_persona

TOKEN = "test-token-0123456789abcdef"
MAX_BODY = 64 * 1024


@dataclass
class Api:
    url: str
    engine: Engine
    store: Store
    personas: PersonaRegistry
    persona_dir: Path
    fake: FakeOpenAI
    http: httpx.AsyncClient
    """Authorized raw client (for what the SDK cannot send); `bare` has no token."""
    bare: httpx.AsyncClient


@pytest.fixture
def persona_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "personas"
    shutil.copytree(REPO / "personas", directory)
    write_persona(
        directory,
        "ada",
        name="Ada",
        description="A careful engineer.",
        situation="You are Ada, a careful engineer.",
        metadata={"team": "core"},
    )
    return directory


@pytest.fixture
async def api(
    tmp_path: Path, database_url: str, backend: str, persona_dir: Path, fake_openai: FakeOpenAI
) -> AsyncIterator[Api]:
    """The API over a fresh store, once on SQLite (tmp_path / "sessions.db") and once on
    PostgreSQL."""
    registry = PersonaRegistry(persona_dir)
    report = await registry.load()
    assert not report.errors
    url = str(tmp_path / "sessions.db") if backend == "sqlite" else database_url
    async with (
        opened_store(url) as store,
        engine_over(store, registry, fake_openai, default_persona="ada") as engine,
        served(create_app(engine, token=TOKEN, max_body=MAX_BODY), TOKEN) as server,
    ):
        yield Api(
            url=server.url,
            engine=engine,
            store=store,
            personas=registry,
            persona_dir=persona_dir,
            fake=fake_openai,
            http=server.http,
            bare=server.bare,
        )


@pytest.fixture
async def client(api: Api) -> AsyncIterator[AsyncJulep]:
    """The official julep SDK pointed at the server; no retries, so every failure shows."""
    async with AsyncJulep(api_key=TOKEN, base_url=api.url, max_retries=0) as julep:
        yield julep
