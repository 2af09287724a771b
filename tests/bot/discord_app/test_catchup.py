"""Catch-up after downtime: what people wrote while the bot was away is stored and answered once.

The real bot against the fake Discord: messages are posted while the bot has no gateway
connection (`post_while_down`), then it starts (a fresh IDENTIFY) or reconnects.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from storage import Role
from tests.bot.discord_app.harness import Harness
from tests.fakes.discord_server import Payload


async def start_session(h: Harness) -> Payload:
    first = await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    assert h.reply_text(first) == "echo: Alice: @sessionbot hi"
    return first


async def stored_user_texts(h: Harness) -> list[str]:
    session = await h.session_here(h.general)
    assert session is not None
    return [m.content for m in await h.history(session) if m.role is Role.USER]


async def missed_while_down(
    h: Harness, author: int, texts: list[str], **settings: Any
) -> list[Payload]:
    """Stop the bot, post `texts` as `author`, start it again (with `settings`), let it settle."""
    await h.stop()
    missed = [h.fake.post_while_down(h.general, author, text) for text in texts]
    await h.start(**settings)
    await h.settle()
    return missed


def model_input(h: Harness, index: int = -1) -> list[str]:
    return [m["content"] for m in h.llm.chat_requests[index].body["messages"]]


def channel_reads(h: Harness) -> list[dict[str, str]]:
    return [
        r.query
        for r in h.fake.requests
        if r.method == "GET" and r.path.endswith(f"/channels/{h.general}/messages")
    ]


async def test_messages_posted_while_down_get_one_reply_to_the_newest_with_all_in_context(
    h: Harness,
) -> None:
    await start_session(h)
    asked = len(h.llm.chat_requests)
    missed = await missed_while_down(h, h.alice, ["one", "two", "3"])
    assert [h.replies_to(m) for m in missed[:2]] == [[], []]
    assert h.reply_text(missed[2]) == "echo: Alice: 3"
    assert len(h.llm.chat_requests) == asked + 1
    assert model_input(h)[-3:] == ["Alice: one", "Alice: two", "Alice: 3"]
    assert (await stored_user_texts(h))[-3:] == ["one", "two", "3"]
    [read] = channel_reads(h)
    assert read["limit"] == "100" and int(read["after"]) < int(missed[0]["id"])


async def test_missed_messages_older_than_the_max_age_are_neither_stored_nor_answered(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.discord_app.catchup")
    await start_session(h)
    await h.stop()
    stale = h.fake.post_while_down(h.general, h.alice, "anyone? (two hours ago)")
    h.pass_time(2 * 3600)
    fresh = h.fake.post_while_down(h.general, h.bob, "hello? (just now)")
    await h.start(catchup_max_age=3600)
    await h.settle()
    assert h.replies_to(stale) == []
    assert h.reply_text(fresh) == "echo: Bob: hello? (just now)"
    assert (await stored_user_texts(h))[-2:] == ["@sessionbot hi", "hello? (just now)"]
    assert "1 missed message(s) older than 3600 s" in caplog.text


async def test_past_the_cap_only_the_newest_missed_messages_are_stored_and_a_line_is_logged(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.discord_app.catchup")
    await start_session(h)
    missed = await missed_while_down(
        h, h.alice, [f"note {i}" for i in range(5)], catchup_messages=3
    )
    assert (await stored_user_texts(h))[1:] == ["note 2", "note 3", "note 4"]
    assert h.reply_text(missed[-1]) == "echo: Alice: note 4"
    assert "skipped 2 older missed message(s); storing the newest 3" in caplog.text


async def test_more_missed_than_a_page_reads_the_newest_page_and_answers_once(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.discord_app.catchup")
    await start_session(h)
    asked = len(h.llm.chat_requests)
    flood = [f"flood {i}" for i in range(120)]
    missed = await missed_while_down(h, h.bob, flood, catchup_messages=10)
    stored = await stored_user_texts(h)
    assert stored[1:] == [f"flood {i}" for i in range(110, 120)]
    assert len(h.llm.chat_requests) == asked + 1
    assert h.reply_text(missed[-1]) == "echo: Bob: flood 119"
    assert [set(q) for q in channel_reads(h)] == [{"after", "limit"}, {"limit"}]
    assert "older missed message(s)" in caplog.text


async def test_a_bots_or_webhooks_missed_messages_are_not_answered(h: Harness) -> None:
    await start_session(h)
    helper = h.fake.add_user("helperbot", bot=True, guilds=[h.guild])
    asked = len(h.llm.chat_requests)
    await missed_while_down(h, helper, ["beep"])
    assert len(h.llm.chat_requests) == asked
    assert await stored_user_texts(h) == ["@sessionbot hi"]


async def test_a_live_message_racing_catch_up_is_stored_once_in_order_and_answered_once(
    h: Harness,
) -> None:
    await start_session(h)
    await h.stop()
    missed = h.fake.post_while_down(h.general, h.alice, "while you were away")
    starting = asyncio.create_task(h.start())
    await h.fake.wait_ready()  # READY is out: from here the bot holds events for catch-up
    live = await h.fake.send_message(h.general, h.bob, "and now, live")
    await starting
    await h.fake.redeliver(int(live["id"]))
    await h.settle()
    assert (await stored_user_texts(h))[1:] == ["while you were away", "and now, live"]
    assert len(h.replies_to(live)) == 1
    assert len(h.replies_to(missed)) <= 1  # answered on its own only if read before `live`
    answers = [s for s in h.fake.sent_messages(h.general) if s.reply_to is not None]
    assert len({s.reply_to for s in answers}) == len(answers)  # no message answered twice
    assert model_input(h)[-2:] == ["Alice: while you were away", "Bob: and now, live"]


async def test_after_a_resume_missed_events_are_replayed_and_history_is_not_read(
    h: Harness,
) -> None:
    await start_session(h)
    h.fake.gateway.hold_connections()
    await h.fake.gateway.drop()
    missed = h.fake.post_while_down(h.general, h.alice, "still with me?")
    h.fake.requests.clear()
    h.fake.gateway.accept_connections()
    await h.fake.wait_until(lambda: bool(h.replies_to(missed)))
    await h.settle()
    assert h.reply_text(missed) == "echo: Alice: still with me?"
    assert channel_reads(h) == []
    assert len(h.fake.gateway.resumes) == 1


async def test_after_an_invalid_session_a_fresh_identify_catches_up_once(h: Harness) -> None:
    await start_session(h)
    h.fake.gateway.hold_connections()
    await h.fake.invalidate_session()
    await h.fake.wait_until(lambda: h.fake.gateway.current is None)
    missed = h.fake.post_while_down(h.general, h.alice, "lost on the gateway")
    h.fake.gateway.accept_connections()
    # discord.py waits 5 s before an IDENTIFY that is not its first
    await h.fake.wait_until(lambda: bool(h.replies_to(missed)), timeout=15)
    await h.settle()
    assert h.reply_text(missed) == "echo: Alice: lost on the gateway"
    assert len(channel_reads(h)) == 1  # no session to catch up at the first start
    assert (await stored_user_texts(h)).count("lost on the gateway") == 1
