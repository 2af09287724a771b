"""A fake OpenAI-compatible chat server for tests (aiohttp on 127.0.0.1, a free port).

It speaks just enough of the API for the real `openai` client: `POST /v1/chat/completions`
(JSON or SSE streaming in the real chunk shape) and `GET /v1/models`. Replies are computed, never
canned: a queue of scripted replies, else ``echo: <last user message>``. Knobs make it fail, hang,
stall between chunks, drop the connection mid-stream or refuse ``stream_options``.

Async tests::

    async with FakeOpenAI() as fake:
        model = OpenAIChatModel(base_url=fake.base_url, api_key="sk-test")

Synchronous or subprocess tests::

    with FakeOpenAI.in_thread() as fake:
        subprocess.run([..., "--base-url", fake.base_url])

`FakeHTTPServer` (in `tests.fakes.http`, re-exported here) holds the parts that do not know about
OpenAI: start/stop, request recording, hangs that end cleanly at shutdown, the thread runner.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.http import FakeHTTPServer, Outcome, RecordedRequest

__all__ = [
    "DEFAULT_MODEL",
    "FakeHTTPServer",
    "FakeOpenAI",
    "Outcome",
    "RecordedRequest",
    "count_words",
    "split_words",
]

DEFAULT_MODEL = "fake-model"


@dataclass
class _Failure:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


_WORDS = re.compile(r"\s*\S+|\s+$")


def split_words(text: str) -> list[str]:
    """Split a reply into stream chunks: each word with its leading whitespace."""
    return _WORDS.findall(text)


def count_words(text: str) -> int:
    return len(text.split())


def _error_body(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


_DEFAULT_FAILURES: dict[int, tuple[dict[str, Any], dict[str, str]]] = {
    429: (
        _error_body("Rate limit reached for requests.", "requests", "rate_limit_exceeded"),
        {"Retry-After": "0"},
    ),
    500: (
        _error_body("The server had an error while processing your request.", "server_error"),
        {},
    ),
    503: (_error_body("The server is overloaded or not ready yet.", "server_error"), {}),
}


class FakeOpenAI(FakeHTTPServer):
    """A fake OpenAI-compatible chat completions server.

    Knobs (all may be changed while running):
    - `queue_reply(text_or_chunks)`: the next reply; else ``echo: <last user content>``.
    - `fail_next(status, times=1, body=None, headers=None)`: answer the next chat requests with
      an error (429 comes with ``Retry-After: 0`` unless `headers` says otherwise).
    - `hang_next(times=1)`: accept the next chat requests and never answer (until close).
    - `chunk_delay`: seconds between SSE chunks.
    - `first_chunk_delay`: seconds before a stream's first SSE chunk (the model's time to first
      token; the headers go out at once).
    - `break_stream_after(n)`: the next stream is cut after `n` SSE events.
    - `error_event_after(n, message)`: the next stream sends an ``{"error": ...}`` event after
      `n` SSE events and ends, as vLLM or LiteLLM do when a backend fails mid-reply.
    - `reject_stream_options`: answer 400 to requests that carry ``stream_options``, as some
      OpenAI-compatible servers do.
    - `api_key`: if set, a different bearer token gets a 401 that echoes the token (as OpenAI
      does in part), so tests can check it never reaches users.
    - `models`: if set, other model names get a 404 ``model_not_found``.

    Usage numbers are computed: prompt = words in all request messages, completion = words in
    the reply.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: Sequence[str] | None = None,
        chunk_delay: float = 0.0,
        first_chunk_delay: float = 0.0,
        reject_stream_options: bool = False,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.models = list(models) if models is not None else None
        self.chunk_delay = chunk_delay
        self.first_chunk_delay = first_chunk_delay
        self.reject_stream_options = reject_stream_options
        self._replies: deque[list[str]] = deque()
        self._failures: deque[_Failure] = deque()
        self._hangs = 0
        self._break_after: int | None = None
        self._error_after: tuple[int, str] | None = None
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        """The URL to give the client, ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The recorded ``POST /v1/chat/completions`` requests, in order."""
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    def queue_reply(self, reply: str | Sequence[str]) -> None:
        """Script the next reply: a string is streamed word by word, a list chunk by chunk."""
        chunks = split_words(reply) if isinstance(reply, str) else list(reply)
        self._replies.append(chunks)

    def fail_next(
        self,
        status: int,
        times: int = 1,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        default_body, default_headers = _DEFAULT_FAILURES.get(
            status, (_error_body(f"Scripted failure {status}.", "fake_error"), {})
        )
        failure = _Failure(
            status=status,
            body=default_body if body is None else body,
            headers=dict(default_headers if headers is None else headers),
        )
        self._failures.extend([failure] * times)

    def hang_next(self, times: int = 1) -> None:
        self._hangs += times

    def break_stream_after(self, n_chunks: int) -> None:
        self._break_after = n_chunks

    def error_event_after(self, n_chunks: int, message: str = "The model crashed.") -> None:
        self._error_after = (n_chunks, message)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)

    async def _models(self, request: web.Request) -> web.Response:
        recorded = await self.record(request)
        recorded.outcome = "answered"
        names = self.models if self.models is not None else [DEFAULT_MODEL]
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "fake"} for n in names]
        return web.json_response({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        recorded = await self.record(request)
        if self._hangs:
            self._hangs -= 1
            recorded.outcome = "hung"
            await self.hold()
            return web.json_response(_error_body("Shutting down.", "server_error"), status=503)
        refusal = self._refusal(recorded)
        if refusal is not None:
            recorded.outcome = "failed"
            return refusal
        body = recorded.body
        chunks = self._replies.popleft() if self._replies else split_words(_echo(body["messages"]))
        usage = _usage(body["messages"], "".join(chunks))
        if not body.get("stream"):
            recorded.outcome = "answered"
            return web.json_response(self._completion(body["model"], chunks, usage))
        return await self._stream(request, recorded, chunks, usage)

    def _refusal(self, recorded: RecordedRequest) -> web.Response | None:
        """The error response this request gets instead of a reply, if any."""
        if self._failures:
            failure = self._failures.popleft()
            return web.json_response(failure.body, status=failure.status, headers=failure.headers)
        if self.api_key is not None:
            given = recorded.headers.get("authorization", "").removeprefix("Bearer ")
            if given != self.api_key:
                message = f"Incorrect API key provided: {given}."
                body = _error_body(message, "invalid_request_error", "invalid_api_key")
                return web.json_response(body, status=401)
        body = recorded.body
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return _bad_request("you must provide a model parameter", "model")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return _bad_request("'messages' must be a non-empty array", "messages")
        if self.models is not None and body["model"] not in self.models:
            message = f"The model `{body['model']}` does not exist or you do not have access to it."
            error = _error_body(message, "invalid_request_error", "model_not_found")
            return web.json_response(error, status=404)
        if self.reject_stream_options and "stream_options" in body:
            return _bad_request("Unrecognized request argument supplied: stream_options", None)
        return None

    def _completion(self, model: str, chunks: list[str], usage: dict[str, int]) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(chunks)},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": usage,
        }

    async def _stream(
        self,
        request: web.Request,
        recorded: RecordedRequest,
        chunks: list[str],
        usage: dict[str, int],
    ) -> web.StreamResponse:
        body = recorded.body
        break_after, self._break_after = self._break_after, None
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        events = list(_sse_events(f"chatcmpl-fake-{next(self._ids)}", body, chunks, usage))
        if self._error_after is not None:
            (n, message), self._error_after = self._error_after, None
            error = _error_body(message, "server_error")
            events[n:] = [f"data: {json.dumps(error)}\n\n".encode(), b"data: [DONE]\n\n"]
        try:
            for sent, event in enumerate(events):
                if break_after is not None and sent >= break_after:
                    recorded.outcome = "broken"
                    assert request.transport is not None
                    request.transport.abort()
                    return response
                delay = self.chunk_delay if sent else self.first_chunk_delay
                if (sent or delay) and not await self.pause(delay):
                    recorded.outcome = "broken"  # the server is closing
                    return response
                await response.write(event)
            await response.write_eof()
        except ConnectionResetError:
            recorded.outcome = "disconnected"
            return response
        recorded.outcome = "complete"
        return response


def _bad_request(message: str, param: str | None) -> web.Response:
    error = _error_body(message, "invalid_request_error")
    error["error"]["param"] = param
    return web.json_response(error, status=400)


def _content_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return json.dumps(content)


def _echo(messages: list[Mapping[str, Any]]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    return f"echo: {_content_text(users[-1])}" if users else "echo:"


def _usage(messages: list[Mapping[str, Any]], reply: str) -> dict[str, int]:
    prompt = sum(count_words(_content_text(m)) for m in messages)
    completion = count_words(reply)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _sse_events(
    completion_id: str, body: Mapping[str, Any], chunks: list[str], usage: dict[str, int]
) -> Iterator[bytes]:
    """The SSE byte blocks of one streamed reply, in the real chunk shape."""
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    base = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body["model"],
    }

    def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        data = {**base, "choices": choices, **extra}
        if include_usage and "usage" not in extra:
            data["usage"] = None
        return f"data: {json.dumps(data)}\n\n".encode()

    def choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

    yield event([choice({"role": "assistant", "content": ""})])
    for text in chunks:
        yield event([choice({"content": text})])
    yield event([choice({}, "stop")])
    if include_usage:
        yield event([], usage=usage)
    yield b"data: [DONE]\n\n"
