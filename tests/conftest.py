"""Shared fixtures."""

from collections.abc import AsyncIterator

import pytest

from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """A started fake OpenAI-compatible server; `fake_openai.base_url` is its /v1 URL."""
    async with FakeOpenAI() as fake:
        yield fake
