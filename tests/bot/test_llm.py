"""OpenAIChatModel against the real openai client and the fake server on 127.0.0.1.

Here: streaming, the request sent, `complete`, stopping early and the stream_options fallback.
Failures and what users are told about them are in `test_llm_errors.py`.
"""

from __future__ import annotations

import pytest

from bot.engine.errors import LLMRejected
from bot.llm import ChatMessage, ChatModel, OpenAIChatModel, Usage
from tests.bot.llm_support import API_KEY, MESSAGES, ModelFactory, collect, request
from tests.fakes.openai_server import FakeOpenAI


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


async def test_the_body_is_json_with_non_ascii_text_intact(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    said: list[ChatMessage] = [{"role": "user", "content": 'Grüße, 世界 👋 "quoted"\n'}]
    await collect(make_model(), request(messages=said))
    [sent] = fake_openai.chat_requests
    assert sent.headers["content-type"] == "application/json"
    assert sent.body["messages"] == said


async def test_text_with_a_lone_surrogate_is_still_sent_escaped(
    fake_openai: FakeOpenAI, make_model: ModelFactory
) -> None:
    broken: list[ChatMessage] = [{"role": "user", "content": "half an emoji: \ud83d"}]
    fake_openai.queue_reply("whole")
    deltas, _ = await collect(make_model(), request(messages=broken))
    assert "".join(deltas) == "whole"
    assert fake_openai.chat_requests[0].body["messages"] == broken


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
