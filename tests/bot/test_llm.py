"""OpenAIChatModel against the real openai client and the fake server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.engine.errors import (
    LLMError,
    LLMRateLimited,
    LLMRejected,
    LLMTimeout,
    LLMUnavailable,
    SessionbotError,
)
from bot.llm import ChatMessage, ChatModel, ChatRequest, OpenAIChatModel, Usage
from tests.fakes.openai_server import FakeOpenAI

API_KEY = "sk-test-5ecret-k3y-for-tests"

MESSAGES: list[ChatMessage] = [
    {"role": "system", "content": "You are a calm helper."},
    {"role": "user", "content": "Hello there, how are you?"},
]

ModelFactory = Callable[..., OpenAIChatModel]


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


def request(**overrides: Any) -> ChatRequest:
    return ChatRequest(**{"messages": MESSAGES, "model": "fake-model", **overrides})


async def collect(model: OpenAIChatModel, req: ChatRequest) -> tuple[list[str], Usage | None]:
    stream = model.stream(req)
    deltas = [delta async for delta in stream]
    return deltas, stream.usage


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_open_ai_chat_model_satisfies_the_chat_model_protocol(
    make_model: ModelFactory,
) -> None:
    model: ChatModel = make_model()
    assert isinstance(model, OpenAIChatModel)


async def test_stream_yields_the_reply_chunks_in_order(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.queue_reply("Doing well, thank you for asking!")
    deltas, _ = await collect(make_model(), request())
    assert deltas == ["Doing", " well,", " thank", " you", " for", " asking!"]
    assert "".join(deltas) == "Doing well, thank you for asking!"


async def test_stream_skips_empty_deltas(fake_openai: FakeOpenAI, make_model: ModelFactory) -> None:
    fake_openai.queue_reply(["", "Hi", "", " there", ""])
    deltas, _ = await collect(make_model(), request())
    assert deltas == ["Hi", " there"]


async def test_stream_default_reply_echoes_the_last_user_message(make_model: ModelFactory) -> None:
    deltas, _ = await collect(make_model(), request())
    assert "".join(deltas) == "echo: Hello there, how are you?"


async def test_stream_records_usage_reported_by_the_server(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.queue_reply("one two three")
    model = make_model()
    stream = model.stream(request())
    assert stream.usage is None
    _ = [delta async for delta in stream]
    # prompt: 5 + 5 words in the two messages; completion: 3 words.
    assert stream.usage == Usage(prompt_tokens=10, completion_tokens=3)
    assert stream.finish_reason == "stop"


async def test_stream_sends_the_expected_request_body(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    await collect(make_model(), request(model="persona-model", temperature=0.4, max_tokens=77))
    [sent] = fake_openai.chat_requests
    body = sent.body
    assert body["model"] == "persona-model"
    assert body["messages"] == MESSAGES
    assert body["temperature"] == 0.4
    assert body["max_tokens"] == 77
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"


async def test_unset_sampling_options_are_not_sent(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    await collect(make_model(), request())
    body = fake_openai.chat_requests[0].body
    assert "temperature" not in body
    assert "max_tokens" not in body


async def test_message_names_are_passed_through(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    named: list[ChatMessage] = [{"role": "user", "content": "hi", "name": "ada"}]
    await collect(make_model(), request(messages=named))
    assert fake_openai.chat_requests[0].body["messages"] == [
        {"role": "user", "content": "hi", "name": "ada"}
    ]


async def test_stream_usage_off_sends_no_stream_options(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    deltas, usage = await collect(make_model(stream_usage=False), request())
    assert "".join(deltas) == "echo: Hello there, how are you?"
    assert usage is None
    assert "stream_options" not in fake_openai.chat_requests[0].body


async def test_complete_returns_the_whole_reply_and_usage(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.queue_reply("A complete answer.")
    text, usage = await make_model().complete(request(temperature=1.0))
    assert text == "A complete answer."
    assert usage == Usage(prompt_tokens=10, completion_tokens=3)
    body = fake_openai.chat_requests[0].body
    assert body.get("stream") in (None, False)
    assert "stream_options" not in body
    assert body["temperature"] == 1.0


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


async def test_stopping_early_closes_the_connection(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.queue_reply(" ".join(f"w{i}" for i in range(50)))
    fake_openai.chunk_delay = 0.02
    model = make_model()
    async with model.stream(request()) as stream:
        async for delta in stream:
            assert delta == "w0"
            break
    await fake_openai.wait_until(lambda: fake_openai.chat_requests[0].outcome == "disconnected")
    assert stream.usage is None


async def test_dropping_an_unfinished_iterator_closes_the_connection(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.queue_reply(" ".join(f"w{i}" for i in range(50)))
    fake_openai.chunk_delay = 0.02
    stream = make_model().stream(request())
    async for _ in stream:
        break
    # No explicit close: the iterator is dropped and the event loop finalises it.
    await fake_openai.wait_until(lambda: fake_openai.chat_requests[0].outcome == "disconnected")


async def test_the_model_still_works_after_an_early_stop(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.queue_reply("a b c d e f")
    model = make_model()
    async with model.stream(request()) as stream:
        async for _ in stream:
            break
    fake_openai.queue_reply("next reply")
    deltas, _ = await collect(model, request())
    assert "".join(deltas) == "next reply"


async def test_a_stream_can_be_iterated_only_once(make_model: ModelFactory) -> None:
    stream = make_model().stream(request())
    _ = [delta async for delta in stream]
    with pytest.raises(RuntimeError):
        stream.__aiter__()


async def test_stream_options_rejection_falls_back_and_is_remembered(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.reject_stream_options = True
    model = make_model()
    deltas, usage = await collect(model, request())
    assert "".join(deltas) == "echo: Hello there, how are you?"
    assert usage is None
    first, second = fake_openai.chat_requests
    assert first.outcome == "failed"
    assert "stream_options" in first.body
    assert "stream_options" not in second.body
    assert model.stream_usage is False

    await collect(model, request())
    assert len(fake_openai.chat_requests) == 3
    assert "stream_options" not in fake_openai.chat_requests[2].body


async def test_other_400s_do_not_trigger_the_stream_options_fallback(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    fake_openai.fail_next(400, body={"error": {"message": "temperature must be <= 2"}})
    model = make_model()
    with pytest.raises(LLMRejected, match="temperature must be <= 2"):
        await collect(model, request(temperature=3.0))
    assert len(fake_openai.chat_requests) == 1
    assert model.stream_usage is True


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
