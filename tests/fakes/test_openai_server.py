"""The fake OpenAI server speaks the wire format the tests rely on."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import pytest

from tests.fakes.openai_server import FakeOpenAI, split_words

BODY = {
    "model": "fake-model",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is SSE?"},
    ],
}


def post_json(url: str, body: dict[str, Any]) -> Any:
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as response:
        return json.load(response)


async def sse_data(fake: FakeOpenAI, body: dict[str, Any]) -> list[str]:
    """The `data:` payloads of a streamed reply, in order."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{fake.base_url}/chat/completions", json=body) as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        text = await response.text()
    blocks = [block for block in text.split("\n\n") if block]
    assert all(block.startswith("data: ") for block in blocks)
    return [block.removeprefix("data: ") for block in blocks]


def test_split_words_keeps_every_character() -> None:
    text = "  Hello  there,\nfriend! "
    chunks = split_words(text)
    assert "".join(chunks) == text
    assert chunks[:2] == ["  Hello", "  there,"]


async def test_stream_is_sse_in_the_openai_chunk_shape(fake_openai: FakeOpenAI) -> None:
    fake_openai.queue_reply("Server-sent events, one by one.")
    payloads = await sse_data(
        fake_openai, {**BODY, "stream": True, "stream_options": {"include_usage": True}}
    )
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert all(c["model"] == "fake-model" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    content = [c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]]
    assert "".join(content) == "Server-sent events, one by one."
    assert len([c for c in content if c]) == 5
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}


async def test_stream_without_include_usage_has_no_usage_chunk(fake_openai: FakeOpenAI) -> None:
    payloads = await sse_data(fake_openai, {**BODY, "stream": True})
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert all(c["choices"] for c in chunks)
    assert all("usage" not in c for c in chunks)


async def test_requests_are_recorded_with_headers(fake_openai: FakeOpenAI) -> None:
    async with (
        aiohttp.ClientSession(headers={"Authorization": "Bearer sk-x"}) as http,
        http.post(f"{fake_openai.base_url}/chat/completions", json=BODY) as response,
    ):
        reply = await response.json()
    assert reply["choices"][0]["message"]["content"] == "echo: What is SSE?"
    [recorded] = await fake_openai.wait_for_requests(1)
    assert recorded.body == BODY
    assert recorded.headers["authorization"] == "Bearer sk-x"
    assert recorded.outcome == "answered"


async def test_invalid_bodies_get_a_400(fake_openai: FakeOpenAI) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{fake_openai.base_url}/chat/completions", json={"model": "m"}) as response,
    ):
        assert response.status == 400
        assert (await response.json())["error"]["param"] == "messages"


async def test_closing_the_server_ends_a_hung_request(fake_openai: FakeOpenAI) -> None:
    fake_openai.hang_next()

    async def call() -> int:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{fake_openai.base_url}/chat/completions", json=BODY) as response,
        ):
            return response.status

    task = asyncio.create_task(call())
    await fake_openai.wait_for_requests(1)
    await asyncio.sleep(0.05)
    assert not task.done()
    await fake_openai.close()
    async with asyncio.timeout(5):
        assert await task == 503


def test_in_thread_serves_synchronous_clients() -> None:
    with FakeOpenAI.in_thread(models=["a", "b"]) as fake:
        fake.queue_reply("from a thread")
        reply = post_json(f"{fake.base_url}/chat/completions", {**BODY, "model": "a"})
        assert reply["choices"][0]["message"]["content"] == "from a thread"
        assert reply["usage"]["completion_tokens"] == 3
        with urllib.request.urlopen(f"{fake.base_url}/models", timeout=5) as response:
            listing = json.load(response)
        assert [m["id"] for m in listing["data"]] == ["a", "b"]
        with pytest.raises(urllib.error.HTTPError) as caught:
            post_json(f"{fake.base_url}/chat/completions", {**BODY, "model": "c"})
        assert caught.value.code == 404
        caught.value.close()
        url = fake.base_url
    assert [r.path for r in fake.requests] == [
        "/v1/chat/completions",
        "/v1/models",
        "/v1/chat/completions",
    ]
    with pytest.raises(urllib.error.URLError):
        post_json(f"{url}/chat/completions", BODY)
