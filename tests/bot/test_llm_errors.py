"""OpenAIChatModel's failures against the real openai client and the fake server.

Retries, each error mapped to ours with the sentence a user sees, timeouts, broken streams, and
no secret in error messages or logs.
"""

from __future__ import annotations

import contextlib
import logging

import pytest

from bot.engine.errors import (
    LLMError,
    LLMRateLimited,
    LLMRejected,
    LLMTimeout,
    LLMUnavailable,
    SessionbotError,
)
from tests.bot.llm_support import API_KEY, ModelFactory, closed_port, collect, request
from tests.fakes.openai_server import FakeOpenAI


async def test_a_500_is_retried_by_the_client(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.fail_next(500)
    fake_openai.queue_reply("after the retry")
    deltas, _ = await collect(make_model(max_retries=1), request())
    assert "".join(deltas) == "after the retry"
    assert len(fake_openai.chat_requests) == 2


async def test_a_429_with_retry_after_zero_is_retried(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.fail_next(429)
    text, _ = await make_model(max_retries=1).complete(request())
    assert text == "echo: Hello there, how are you?"
    assert len(fake_openai.chat_requests) == 2


async def test_persistent_500_raises_llm_unavailable(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.fail_next(500, times=5)
    with pytest.raises(LLMUnavailable) as caught:
        await collect(make_model(max_retries=1), request())
    assert caught.value.status_code == 500
    assert "500" in str(caught.value)
    assert fake_openai.base_url in str(caught.value)
    assert len(fake_openai.chat_requests) == 2


async def test_persistent_429_raises_llm_rate_limited(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.fail_next(429, times=2)
    with pytest.raises(LLMRateLimited, match="rate limiting"):
        await make_model().complete(request())


async def test_a_bad_api_key_is_rejected_naming_the_setting_but_not_the_key(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.api_key = "sk-the-right-one"
    with pytest.raises(LLMRejected) as caught:
        await collect(make_model(max_retries=2), request())
    message = str(caught.value)
    assert "OPENAI_API_KEY" in message
    assert API_KEY not in message
    assert caught.value.user_message == message
    assert isinstance(caught.value, SessionbotError)
    # The server echoed the key in its error body; it must not travel further.
    assert API_KEY in fake_openai.chat_requests[0].headers["authorization"]
    assert len(fake_openai.chat_requests) == 1  # a 401 is not retried


async def test_an_unknown_model_is_rejected_naming_the_model_and_setting(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.models = ["fake-model"]
    with pytest.raises(LLMRejected) as caught:
        await make_model().complete(request(model="no-such-model"))
    assert "'no-such-model'" in str(caught.value)
    assert "SESSIONBOT_MODEL" in str(caught.value)
    assert caught.value.status_code == 404


async def test_a_403_names_the_model_and_the_key_setting(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.fail_next(403)
    with pytest.raises(LLMRejected) as caught:
        await collect(make_model(), request())
    assert "'fake-model'" in str(caught.value)
    assert "OPENAI_API_KEY" in str(caught.value)


async def test_a_400_shows_the_server_reason_without_the_key(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    body = {"error": {"message": f"max_tokens is too large (key {API_KEY})", "type": "invalid"}}
    fake_openai.fail_next(400, body=body)
    with pytest.raises(LLMRejected) as caught:
        await collect(make_model(), request(max_tokens=10**6))
    message = str(caught.value)
    assert "max_tokens is too large" in message
    assert API_KEY not in message


async def test_a_hung_server_raises_llm_timeout(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.hang_next()
    with pytest.raises(LLMTimeout, match=r"did not answer within 0\.5 seconds"):
        await collect(make_model(timeout=0.5), request())
    assert fake_openai.chat_requests[0].outcome == "hung"


async def test_a_stall_between_chunks_raises_llm_timeout(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.chunk_delay = 1.0
    deltas: list[str] = []
    with pytest.raises(LLMTimeout):
        async for delta in make_model(timeout=0.3).stream(request()):
            deltas.append(delta)
    assert deltas == []


async def test_a_closed_port_raises_llm_unavailable_naming_the_url(
    make_model: ModelFactory,
) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}/v1"
    with pytest.raises(LLMUnavailable) as caught:
        await collect(make_model(base_url=base_url), request())
    assert str(caught.value) == (
        f"The language model server at {base_url} could not be reached; "
        "check OPENAI_BASE_URL and that the server is running."
    )


async def test_credentials_in_the_base_url_are_not_shown(make_model: ModelFactory) -> None:
    base_url = f"http://user:hunter2@127.0.0.1:{closed_port()}/v1"
    with pytest.raises(LLMUnavailable) as caught:
        await make_model(base_url=base_url).complete(request())
    assert "hunter2" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)


async def test_a_connection_cut_mid_stream_raises_llm_error_after_the_first_deltas(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.queue_reply("one two three four five")
    fake_openai.break_stream_after(3)  # role chunk + "one" + " two"
    deltas: list[str] = []
    with pytest.raises(LLMError, match="broke off"):
        async for delta in make_model(max_retries=2).stream(request()):
            deltas.append(delta)
    assert deltas == ["one", " two"]
    assert fake_openai.chat_requests[0].outcome == "broken"
    assert len(fake_openai.chat_requests) == 1  # nothing is retried once text has arrived


async def test_an_error_event_mid_stream_raises_llm_error_with_the_reason(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.queue_reply("one two three")
    fake_openai.error_event_after(2, "upstream worker crashed")
    deltas: list[str] = []
    with pytest.raises(LLMError, match="upstream worker crashed") as caught:
        async for delta in make_model().stream(request()):
            deltas.append(delta)
    assert deltas == ["one"]
    assert type(caught.value) is LLMError


async def test_the_api_key_is_never_logged(
    fake_openai: FakeOpenAI, make_model: ModelFactory, caplog: pytest.LogCaptureFixture
) -> None:
    fake_openai.api_key = "sk-the-right-one"
    caplog.set_level(logging.DEBUG, logger="bot.llm")
    with contextlib.suppress(LLMRejected):
        await collect(make_model(), request())
    bot_records = [r for r in caplog.records if r.name == "bot.llm"]
    assert any("model=fake-model messages=2" in r.getMessage() for r in bot_records)
    assert all(API_KEY not in r.getMessage() for r in bot_records)
