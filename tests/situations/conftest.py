from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from situations import PersonaLoadError, load_profile

MINIMAL = "name: Sara\nsituation: You are Sara.\n"


@pytest.fixture
def personas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty persona directory, given as the relative path ``personas``."""
    monkeypatch.chdir(tmp_path)
    directory = Path("personas")
    directory.mkdir()
    return directory


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def load_errors(path: Path) -> list[str]:
    """The one-line errors loading ``path`` produces (the load must fail)."""
    with pytest.raises(PersonaLoadError) as info:
        load_profile(path)
    assert str(info.value) == "\n".join(str(error) for error in info.value.errors)
    return [str(error) for error in info.value.errors]


async def eventually(condition: Callable[[], bool], what: str, limit: float = 5.0) -> None:
    """Wait until ``condition()`` holds; a liveness bound, not a timing measurement."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {limit} s")
        await asyncio.sleep(0.02)
