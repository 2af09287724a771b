"""SESSIONBOT_MAX_REPLIES: at most that many replies are written at once; the rest wait their
turn, and every message is still answered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.bot.discord_app.harness import Harness, harness


@pytest.fixture
async def one_at_a_time(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path, max_replies=1) as running:
        await running.start()
        yield running


async def test_a_second_conversation_waits_for_the_reply_being_written(
    one_at_a_time: Harness,
) -> None:
    h = one_at_a_time
    for channel, author in ((h.general, h.alice), (h.random, h.bob)):
        await h.say(channel, author, f"<@{h.fake.bot_id}> hi")
    asked = len(h.llm.chat_requests)
    h.llm.chunk_delay = 0.1  # a reply of a few words takes about half a second
    first = await h.fake.send_message(h.general, h.alice, "tell me something")
    second = await h.fake.send_message(h.random, h.bob, "and me")
    await h.llm.wait_for_requests(asked + 1)
    await asyncio.sleep(0.2)
    streaming = h.llm.chat_requests[asked:]
    assert len(streaming) == 1 and streaming[0].outcome == "pending"
    await h.settle()
    assert len(h.llm.chat_requests) == asked + 2
    assert all(r.outcome == "complete" for r in h.llm.chat_requests[asked:])
    assert h.replies_to(first) and h.replies_to(second)
