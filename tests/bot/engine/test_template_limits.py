"""A runaway situation template fails the turn with its sentence, within the time limit, while
other sessions keep being answered."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.engine import Pinned
from bot.engine.errors import SituationFailed
from storage import SessionChanges
from tests.bot.engine.conftest import StartWith, say
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import write_persona

RUNAWAY = "{% for i in range(60000) %}{% for j in range(60000) %}{% endfor %}{% endfor %}"


async def test_a_runaway_template_fails_the_turn_and_others_keep_going(
    fake_openai: FakeOpenAI, start_with: StartWith, persona_dir: Path
) -> None:
    write_persona(persona_dir, "ok", name="Ok", situation="You are fine.")
    pinned = Pinned(situation=RUNAWAY, render_templates=True)
    engine, stuck = await start_with("loop", {"pinned": pinned}, name="Loop", situation="x")
    other = (await engine.start_session(persona_id="ok")).session
    fake_openai.queue_reply("Still here.")

    start = time.perf_counter()
    slow = asyncio.create_task(say(engine, stuck.id, "hi"))
    await asyncio.sleep(0.05)
    assert await asyncio.wait_for(say(engine, other.id, "hello"), 1.0) == "Still here."
    with pytest.raises(SituationFailed) as info:
        await slow
    assert time.perf_counter() - start < 10
    assert str(info.value) == (
        "Persona 'loop': situation template line 1: took longer than 1 s to render (the limit); "
        "look for a runaway loop or macro"
    )
    fake_openai.queue_reply("Back.")
    fixed = SessionChanges(situation="{% for i in range(2) %}{{ i }}{% endfor %}")
    await engine.update_session(stuck.id, fixed)
    assert await say(engine, stuck.id, "again") == "Back."
    assert fake_openai.chat_requests[-1].body["messages"][0]["content"] == "01"
