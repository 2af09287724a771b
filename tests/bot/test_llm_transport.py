"""The model client's HTTP transport (the SDK's aiohttp one): a connection that is refused or
dropped is told apart from a server that is slow, and a base URL with credentials still works."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.engine.errors import LLMTimeout, LLMUnavailable
from bot.llm import OpenAIChatModel
from tests.bot.llm_support import ModelFactory, collect, request
from tests.fakes.openai_server import FakeOpenAI

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
RawServer = Callable[[Answer], Awaitable[str]]

_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
_EVENT = b'data: {"choices": [{"index": 0, "delta": {"content": "one"}}]}\n\n'


@pytest.fixture
async def raw_server() -> AsyncIterator[RawServer]:
    """A TCP server on 127.0.0.1 answering each connection with `answer`; yields its base URL."""
    servers: list[asyncio.Server] = []

    async def start(answer: Answer) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await answer(reader, writer)
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)


async def test_a_connection_closed_before_any_answer_is_unreachable_not_slow(
    raw_server: RawServer, make_model: ModelFactory
) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)

    base_url = await raw_server(hang_up)
    model = make_model(base_url=base_url)
    for attempt in (collect(model, request()), model.complete(request())):
        with pytest.raises(LLMUnavailable, match="could not be reached"):
            await attempt


async def test_a_connection_dropped_mid_stream_broke_off_rather_than_timed_out(
    raw_server: RawServer, make_model: ModelFactory
) -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(_HEAD + b"%x\r\n%s\r\n" % (len(_EVENT), _EVENT))
        await writer.drain()
        writer.transport.abort()

    model = make_model(base_url=await raw_server(drop))
    deltas: list[str] = []
    with pytest.raises(LLMUnavailable, match="broke off"):
        async for delta in model.stream(request()):
            deltas.append(delta)
    assert deltas == ["one"]


async def test_a_stall_mid_stream_is_still_a_timeout(
    raw_server: RawServer, make_model: ModelFactory
) -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(_HEAD + b"%x\r\n%s\r\n" % (len(_EVENT), _EVENT))
        await writer.drain()
        await asyncio.sleep(5)

    model = make_model(base_url=await raw_server(stall), timeout=0.3)
    with pytest.raises(LLMTimeout):
        await collect(model, request())


async def test_a_base_url_with_credentials_streams_through_the_default_transport(
    fake_openai: FakeOpenAI,
) -> None:
    base_url = fake_openai.base_url.replace("http://", "http://user:secret@")
    fake_openai.queue_reply("hello there")
    async with OpenAIChatModel(base_url=base_url, api_key="sk-test", max_retries=0) as model:
        deltas, _ = await collect(model, request())
    assert "".join(deltas) == "hello there"
