"""Fixtures for the bot's tests: `make_model` for the OpenAIChatModel tests (`test_llm*.py`); a
threaded fake OpenAI server and a subprocess environment for the `sessionbot` command tests."""

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.llm import OpenAIChatModel
from tests.bot.llm_support import API_KEY, ModelFactory
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import REPO, command_env


@pytest.fixture
async def make_model(fake_openai: FakeOpenAI) -> AsyncIterator[ModelFactory]:
    """Build models pointed at the fake (fast settings by default); all closed at teardown."""
    models: list[OpenAIChatModel] = []

    def make(**overrides: Any) -> OpenAIChatModel:
        settings: dict[str, Any] = {
            "base_url": fake_openai.base_url,
            "api_key": API_KEY,
            "timeout": 5.0,
            "max_retries": 0,
        }
        settings.update(overrides)
        model = OpenAIChatModel(**settings)
        models.append(model)
        return model

    yield make
    for model in models:
        await model.close()


@pytest.fixture
def threaded_openai() -> Iterator[FakeOpenAI]:
    """The fake OpenAI server on a thread of its own, reachable while the test blocks on a
    `sessionbot` subprocess."""
    with FakeOpenAI.in_thread() as server:
        yield server


@pytest.fixture
def shipped_env(tmp_path: Path, threaded_openai: FakeOpenAI) -> dict[str, str]:
    """The environment of a `sessionbot` subprocess using a copy of the shipped personas and
    `threaded_openai` as its model server."""
    personas = tmp_path / "personas"
    shutil.copytree(REPO / "personas", personas)
    return command_env(tmp_path, personas, OPENAI_BASE_URL=threaded_openai.base_url)
