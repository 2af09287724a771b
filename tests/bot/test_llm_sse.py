"""How OpenAIChatModel reads the event stream: the SSE decoder, and bodies the fake server does
not send (CRLF line ends, events split across reads, data that is not JSON)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from bot.engine.errors import LLMError
from bot.llm import OpenAIChatModel, Usage
from bot.sse import SSEDecoder
from tests.bot.llm_support import API_KEY, collect, request

Serve = Callable[[list[bytes]], Awaitable[OpenAIChatModel]]


def decode(blocks: list[bytes]) -> list[bytes]:
    decoder = SSEDecoder()
    return [data for block in blocks for data in decoder.feed(block)]


def test_events_split_anywhere_are_put_back_together() -> None:
    body = b'data: {"a": 1}\n\ndata: {"b": 2}\n\ndata: [DONE]\n\n'
    expected = [b'{"a": 1}', b'{"b": 2}', b"[DONE]"]
    assert decode([body]) == expected
    assert decode([body[i : i + 1] for i in range(len(body))]) == expected


def test_crlf_and_cr_line_ends_are_read_even_split_between_reads() -> None:
    assert decode([b"data: one\r", b"\n\r\n", b"data: two\r\rdata: three\n\n"]) == [
        b"one",
        b"two",
        b"three",
    ]


def test_multi_line_data_is_joined_and_other_fields_are_skipped() -> None:
    body = b": keep-alive\nevent: message\nid: 7\ndata:first\ndata: second\n\nevent: ping\n\n"
    assert decode([body]) == [b"first\nsecond"]


def test_an_unfinished_event_is_not_reported() -> None:
    assert decode([b"data: half"]) == []


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Serve a fixed chat completions body (in the given pieces) on 127.0.0.1."""
    runners: list[web.AppRunner] = []
    models: list[OpenAIChatModel] = []

    async def start(pieces: list[bytes]) -> OpenAIChatModel:
        async def chat(req: web.Request) -> web.StreamResponse:
            await req.read()
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(req)
            for piece in pieces:
                await response.write(piece)
            await response.write_eof()
            return response

        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        model = OpenAIChatModel(base_url=f"http://127.0.0.1:{port}/v1", api_key=API_KEY)
        models.append(model)
        return model

    yield start
    for model in models:
        await model.close()
    for runner in runners:
        await runner.cleanup()


def chunk(content: str) -> bytes:
    return b'{"choices": [{"index": 0, "delta": {"content": "%s"}}]}' % content.encode()


async def test_a_crlf_stream_in_odd_pieces_gives_every_delta_and_the_usage(serve: Serve) -> None:
    usage = b'{"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 2}}'
    body = b"".join(b"data: " + data + b"\r\n\r\n" for data in (chunk("Hi"), chunk(" you"), usage))
    body += b"data: [DONE]\r\n\r\n"
    model = await serve([body[:9], body[9:40], body[40:]])
    deltas, got = await collect(model, request())
    assert deltas == ["Hi", " you"]
    assert got == Usage(prompt_tokens=4, completion_tokens=2)


async def test_a_stream_without_done_ends_with_the_body(serve: Serve) -> None:
    model = await serve([b"data: " + chunk("only") + b"\n\n"])
    deltas, usage = await collect(model, request())
    assert deltas == ["only"]
    assert usage is None


async def test_data_that_is_not_json_raises_llm_error_naming_the_setting(serve: Serve) -> None:
    model = await serve([b"data: " + chunk("one") + b"\n\n", b"data: {not json\n\n"])
    deltas: list[str] = []
    with pytest.raises(LLMError, match="could not be read") as caught:
        async for delta in model.stream(request()):
            deltas.append(delta)
    assert deltas == ["one"]
    assert "OPENAI_BASE_URL" in str(caught.value)


async def test_an_error_event_without_a_message_still_explains_itself(serve: Serve) -> None:
    model = await serve([b'data: {"error": {"code": 500}}\n\n'])
    with pytest.raises(LLMError, match="An error occurred during streaming"):
        await collect(model, request())
