"""Through webhooks, the bot's lifecycle holds: catch-up, graceful shutdown, exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.discord_app.shutdown import CUT_OFF_NOTE
from storage import Role
from tests.bot.discord_app.harness import Harness, harness
from tests.fakes.discord_webhooks import WebhookMessage

LONG_REPLY = " ".join(f"word{i}" for i in range(60))
EXECUTE = "/webhooks/{webhook}/{token}"
HOOK_MESSAGE = "/webhooks/{webhook}/{token}/messages/{message}"


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path, webhooks=True) as running:
        await running.start()
        yield running


def persona_messages(h: Harness) -> list[WebhookMessage]:
    return h.fake.webhooks.sent(h.general)


async def test_messages_missed_while_down_are_answered_once_by_the_persona(w: Harness) -> None:
    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hi")
    await w.stop()
    missed = [w.fake.post_while_down(w.general, w.bob, text) for text in ("one", "two")]
    await w.start(webhooks=True)
    await w.settle()
    last = persona_messages(w)[-1]
    assert last.content == "-# ↪ Bob\necho: Bob: two"
    assert len(w.llm.chat_requests) == 2
    await w.stop()  # a restart reads the persona's reply and does not answer again
    await w.start(webhooks=True)
    await w.settle()
    assert len(w.llm.chat_requests) == 2
    assert missed


async def test_a_reply_cut_off_at_shutdown_shows_the_note_and_retry_then_is_not_caught_up(
    w: Harness,
) -> None:
    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hi")
    await w.stop()
    await w.start(webhooks=True, shutdown_grace=0.5)
    w.llm.chunk_delay = 0.2
    w.llm.queue_reply(LONG_REPLY)
    await w.fake.send_message(w.general, w.alice, "tell me a long story")
    await w.fake.wait_until(lambda: len(persona_messages(w)) == 3, timeout=10)
    await w.stop()
    cut = persona_messages(w)[-1]
    assert cut.content.startswith("-# ↪ Alice\nword0 word1")
    assert cut.content.endswith(CUT_OFF_NOTE)
    [custom_id] = cut.custom_ids()
    w.llm.chunk_delay = 0.0
    asked = len(w.llm.chat_requests)
    await w.start(webhooks=True)  # Retry is on offer: catch-up leaves the message to it
    await w.settle()
    assert len(w.llm.chat_requests) == asked
    retry = await w.fake.invoke_component(custom_id, cut.id, user_id=w.alice)
    await w.fake.wait_response(retry)
    await w.settle()
    assert cut.deleted
    assert persona_messages(w)[-1].content.endswith("echo: Alice: tell me a long story")
    session = await w.session_here(w.general)
    assert session is not None
    assert (await w.history(session))[-1].role is Role.ASSISTANT


async def test_while_webhooks_fail_the_reply_is_shown_once_discord_answers_again(
    w: Harness,
) -> None:
    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hi")
    w.running.replies.final_retries = (0.2, 0.2)
    w.running.replies.notice_retries = (0.5, 1.0, 2.0)
    fault = w.fake.faults.server_error("POST", EXECUTE, status=503, times=None, after=True)
    message = await w.fake.send_message(w.general, w.alice, "through the storm")
    await w.fake.wait_until(lambda: len(fault.hits) >= 2, timeout=15)
    w.fake.faults.clear()
    await w.fake.wait_until(
        lambda: any("through the storm" in m.content for m in persona_messages(w)), timeout=15
    )
    await w.running.replies.later.join()
    await w.settle()
    texts = [m.content for m in persona_messages(w)]
    assert texts.count("-# ↪ Alice\necho: Alice: through the storm") == 1
    assert message


async def test_an_execute_that_lost_its_connection_is_adopted_not_posted_again(
    w: Harness,
) -> None:
    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hi")
    w.fake.webhooks.lose_answers = 1
    await w.say(w.general, w.alice, "are you there?")
    made = w.fake.webhooks.sent(w.general, include_deleted=True)
    made = [m for m in made if "there" in m.content]
    assert len(made) == 1 and not made[0].deleted
    assert made[0].content == "-# ↪ Alice\necho: Alice: are you there?"
    [hook] = w.fake.webhooks.in_channel(w.general)
    executes = [r for r in w.fake.requests_to("POST", EXECUTE) if f"/{hook.id}/" in r.path]
    assert len(executes) == 3  # greeting, first reply, the lost one: found, not posted again


async def test_a_rate_limited_execute_waits_and_is_shown_once(w: Harness) -> None:
    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hi")
    fault = w.fake.faults.rate_limit("POST", EXECUTE, retry_after=0.2)
    await w.say(w.general, w.alice, "slow down")
    texts = [m.content for m in persona_messages(w)]
    assert texts.count("-# ↪ Alice\necho: Alice: slow down") == 1
    [limited] = fault.hits
    [retried] = [r for r in w.fake.requests_to("POST", EXECUTE) if r.at > limited.at]
    assert retried.at - limited.at >= 0.19 and retried.status == 200


async def test_rate_limited_webhook_edits_still_end_with_the_whole_text(w: Harness) -> None:
    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hi")
    w.running.replies.edit_interval = 0.05
    w.llm.chunk_delay = 0.02
    w.llm.queue_reply(LONG_REPLY)
    limit = w.fake.faults.rate_limit("PATCH", HOOK_MESSAGE, retry_after=0.15, times=3)
    await w.say(w.general, w.alice, "stream it")
    assert persona_messages(w)[-1].content == f"-# ↪ Alice\n{LONG_REPLY}"
    assert len(limit.hits) == 3
