"""End to end: Discord rate-limits, fails and drops the gateway; every reply is shown once, whole.

The fake Discord answers chosen requests with 429s and 5xx (see `tests.fakes.discord_faults`)
and counts every request, which is how "exactly once" is proven here.
"""

from __future__ import annotations

import pytest

from storage import Role
from tests.bot.discord_app.harness import Harness
from tests.fakes.discord_faults import Scope
from tests.fakes.discord_server import Payload, SentMessage

MESSAGES = "/channels/{channel}/messages"
MESSAGE = "/channels/{channel}/messages/{message}"
WORDS = [f"word{i:03d} " for i in range(60)]
LONG = "".join(WORDS)


async def started(h: Harness) -> None:
    """A session in #general, its greeting and first reply shown; quick retries for tests."""
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    h.running.replies.final_retries = (0.05, 0.1, 0.2)
    h.running.replies.notice_retries = (0.05,) * 200


def creates(h: Harness) -> int:
    return len(h.fake.requests_to("POST", MESSAGES))


def only_reply(h: Harness, message: Payload) -> SentMessage:
    [reply] = h.replies_to(message)
    assert [s for s in h.fake.sent_messages(h.general) if s.reply_to == int(message["id"])] == [
        reply
    ]
    return reply


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_send_that_went_through_despite_a_server_error_is_not_repeated(
    h: Harness, status: int
) -> None:
    await started(h)
    before = creates(h)
    fault = h.fake.faults.server_error("POST", MESSAGES, status=status, after=True)
    message = await h.say(h.general, h.alice, "are you there?")
    assert only_reply(h, message).content == "echo: Alice: are you there?"
    assert len(fault.hits) == 1
    assert creates(h) - before == 2  # the failed create and its repeat, same nonce: one message
    nonces = {r.body["nonce"] for r in h.fake.requests_to("POST", MESSAGES)[before:]}
    assert len(nonces) == 1


async def test_a_send_refused_with_a_server_error_is_sent_again(h: Harness) -> None:
    await started(h)
    before = creates(h)
    h.fake.faults.server_error("POST", MESSAGES, status=503, times=2)
    message = await h.say(h.general, h.alice, "knock knock")
    assert only_reply(h, message).content == "echo: Alice: knock knock"
    assert creates(h) - before == 3


@pytest.mark.parametrize("scope", ["user", "global"])
async def test_a_rate_limited_send_waits_and_is_shown_once(h: Harness, scope: Scope) -> None:
    await started(h)
    before = creates(h)
    fault = h.fake.faults.rate_limit("POST", MESSAGES, retry_after=0.2, scope=scope)
    message = await h.say(h.general, h.alice, "slow down")
    assert only_reply(h, message).content == "echo: Alice: slow down"
    first, second = h.fake.requests_to("POST", MESSAGES)[before:]
    assert first is fault.hits[0] and first.status == 429
    assert second.at - first.at >= 0.19  # Discord's retry_after was respected


async def streamed(h: Harness, interval: float, text: str = "stream it") -> Payload:
    """A reply of 60 words streamed over about 1.2 s, edited every `interval` seconds."""
    h.running.replies.edit_interval = interval
    h.llm.chunk_delay = 0.02
    h.llm.queue_reply(WORDS)
    return await h.say(h.general, h.alice, text)


async def test_rate_limited_edits_slow_the_stream_and_the_final_text_is_whole(h: Harness) -> None:
    await started(h)
    before = len(h.fake.requests_to("PATCH", MESSAGE))
    calm = await streamed(h, 0.05, "calm")
    assert only_reply(h, calm).content == LONG
    calm_edits = len(h.fake.requests_to("PATCH", MESSAGE)) - before

    before = len(h.fake.requests_to("PATCH", MESSAGE))
    limit = h.fake.faults.rate_limit("PATCH", MESSAGE, retry_after=0.15, times=3)
    limited = await streamed(h, 0.05, "limited")
    reply = only_reply(h, limited)
    assert reply.content == LONG
    patches = h.fake.requests_to("PATCH", MESSAGE)[before:]
    assert len(limit.hits) == 3
    assert len(patches) < calm_edits  # 429s included, fewer edits were tried
    final = [p for p in patches if p.path.endswith(f"/messages/{reply.id}")][-1]
    assert final.status == 200 and final.body["content"] == LONG


async def test_a_final_edit_refused_by_a_server_error_is_made_again(h: Harness) -> None:
    await started(h)
    h.running.replies.edit_interval = 30.0  # one message, then only the final edit
    h.llm.chunk_delay = 0.05
    h.llm.queue_reply(WORDS[:10])
    before = len(h.fake.requests_to("PATCH", MESSAGE))
    # The reply is shown before the buttons go from the one before: both 503s hit its final edit.
    fault = h.fake.faults.server_error("PATCH", MESSAGE, status=503, times=2)
    message = await h.say(h.general, h.alice, "finish well")
    reply = only_reply(h, message)
    assert reply.content == "".join(WORDS[:10])
    edits = h.fake.requests_to("PATCH", MESSAGE)[before:]
    assert len([r for r in edits if r.path.endswith(f"/messages/{reply.id}")]) == 3
    assert len(fault.hits) == 2


async def test_a_reply_cut_off_by_discord_going_down_is_shown_whole_once_it_is_back(
    h: Harness,
) -> None:
    await started(h)
    h.llm.chunk_delay = 0.05
    h.llm.queue_reply(WORDS[:20])
    h.running.replies.edit_interval = 0.1
    message = await h.fake.send_message(h.general, h.alice, "tell me a story")
    await h.fake.wait_until(lambda: bool(h.replies_to(message)))
    down = h.fake.faults.server_error(status=503, times=None)  # every API request
    await h.fake.wait_until(lambda: len(h.running.replies.later) == 1, timeout=5)
    await h.fake.wait_until(lambda: len(down.hits) >= 8, timeout=5)
    assert h.replies_to(message)[0].content != "".join(WORDS[:20])
    h.fake.faults.clear()
    await h.running.replies.later.join()
    await h.settle()
    assert only_reply(h, message).content == "".join(WORDS[:20])  # the same message, edited
    session = await h.session_here(h.general)
    assert session is not None
    assert (await h.history(session))[-1].content == "".join(WORDS[:20])


async def test_a_failure_while_discord_is_down_shows_with_retry_once_it_is_back(
    h: Harness,
) -> None:
    await started(h)
    down = h.fake.faults.server_error(status=503, times=None)
    h.llm.fail_next(500)
    message = await h.say(h.general, h.alice, "are you there?")
    assert len(h.running.replies.later) == 1
    await h.fake.wait_until(lambda: len(down.hits) >= 5)
    before = creates(h)
    h.fake.faults.clear()
    await h.running.replies.later.join()
    [line] = h.replies_to(message)
    assert line.content.startswith("⚠️ ") and "language model" in line.content
    [custom_id] = line.custom_ids()
    assert custom_id.startswith("sessionbot:retry:")
    assert creates(h) - before == 1
    session = await h.session_here(h.general)
    assert session is not None
    assert (await h.history(session))[-1].content == "are you there?"  # stored, not answered


async def test_a_failure_that_can_never_be_shown_is_logged(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await started(h)
    h.running.replies.notice_retries = (0.02, 0.02, 0.02)
    h.fake.faults.server_error("POST", MESSAGES, status=503, times=None)
    message = await h.say(h.general, h.alice, "anyone?")
    await h.running.replies.later.join()
    assert h.replies_to(message) == []
    assert "could not show a reply" in caplog.text
    h.fake.faults.clear()


async def test_a_gateway_drop_mid_stream_completes_the_reply_once_and_answers_the_next(
    h: Harness,
) -> None:
    await started(h)
    identifies = len(h.fake.gateway.identifies)
    h.llm.chunk_delay = 0.03
    h.llm.queue_reply(WORDS)
    h.running.replies.edit_interval = 0.1
    first = await h.fake.send_message(h.general, h.alice, "long one")
    await h.fake.wait_until(lambda: bool(h.replies_to(first)))
    await h.fake.gateway.drop()
    second = await h.fake.send_message(h.general, h.bob, "and me?")  # missed, then replayed
    await h.fake.wait_ready()
    await h.fake.wait_until(lambda: bool(h.replies_to(second)), timeout=5)
    await h.settle()
    assert only_reply(h, first).content == LONG
    assert only_reply(h, second).content == "echo: Bob: and me?"
    assert len(h.fake.gateway.resumes) == 1
    assert len(h.fake.gateway.identifies) == identifies  # resumed, not a new session
    session = await h.session_here(h.general)
    assert session is not None
    users = [m.content for m in await h.history(session) if m.role is Role.USER]
    assert users.count("and me?") == 1
