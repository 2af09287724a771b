"""What people in a channel see when the model fails: a plain sentence, never the bot's insides."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.bot.discord_app.harness import Harness


@pytest.mark.parametrize("status", [500, 401, 404])
async def test_a_model_failure_names_no_internal_host_in_the_channel(
    h: Harness, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    host = urlsplit(h.llm.base_url).netloc
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    h.llm.fail_next(status)
    message = await h.say(h.general, h.alice, "are you there?")
    [error] = h.replies_to(message)
    assert error.content.startswith("⚠️ ") and "language model" in error.content
    assert host not in error.content and "127.0.0.1" not in error.content
    assert any(host in record.getMessage() for record in caplog.records)  # the operator's view
