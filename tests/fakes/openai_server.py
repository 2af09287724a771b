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

`FakeHTTPServer` holds the parts that do not know about OpenAI (start/stop, request recording,
hangs that end cleanly at shutdown, the thread runner) so that other fakes can reuse them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from aiohttp import web

Outcome = Literal["pending", "answered", "failed", "hung", "complete", "disconnected", "broken"]

DEFAULT_MODEL = "fake-model"


@dataclass
class RecordedRequest:
    """One request as the server saw it.

    `headers` has lower-case names. `body` is the parsed JSON body (None if there was none or it
    was not JSON). `outcome` is updated while the request is handled: "answered" (plain JSON
    reply), "failed" (a scripted or validation error), "hung", "complete" (a stream sent to the
    end), "disconnected" (the client went away mid-stream), "broken" (the fake cut it).
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    outcome: Outcome = "pending"


class FakeHTTPServer:
    """Base for fake HTTP servers: an aiohttp app on 127.0.0.1 with a free port.

    Subclasses implement `add_routes` and call `record` at the top of each handler. Use the
    instance as an async context manager on the running loop, or `in_thread()` from synchronous
    code. Handlers that wait with `hold` or `pause` end as soon as the server closes, so a hung
    request never outlives the test.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing: asyncio.Event | None = None

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash) once started."""
        if self._port is None:
            raise RuntimeError("the fake server is not started")
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> Self:
        app = web.Application()
        self.add_routes(app)
        self._closing = asyncio.Event()
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]
        return self

    async def close(self) -> None:
        """Stop the server; handlers waiting in `hold`/`pause` return first."""
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, *args: Any, **kwargs: Any) -> Iterator[Self]:
        """Run a started server on its own event loop in a thread (for sync/subprocess tests).

        Arguments go to the constructor. Knobs and `requests` can be used from the calling
        thread between requests.
        """
        server = cls(*args, **kwargs)
        ready = threading.Event()
        stop: list[Callable[[], None]] = []
        failure: list[BaseException] = []

        async def serve() -> None:
            stopped = asyncio.Event()
            loop = asyncio.get_running_loop()
            try:
                await server.start()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                raise
            stop.append(lambda: loop.call_soon_threadsafe(stopped.set))
            ready.set()
            try:
                await stopped.wait()
            finally:
                await server.close()

        thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
        thread.start()
        ready.wait(timeout=10)
        if failure:
            thread.join(timeout=10)
            raise failure[0]
        if not stop:
            raise RuntimeError("the fake server did not start within 10 s")
        try:
            yield server
        finally:
            stop[0]()
            thread.join(timeout=10)

    async def record(self, request: web.Request) -> RecordedRequest:
        """Store the request (headers and parsed JSON body) and return the record."""
        raw = await request.read()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            headers={name.lower(): value for name, value in request.headers.items()},
            body=body,
        )
        self.requests.append(recorded)
        return recorded

    # The helpers below take `timeout` (ASYNC109) and poll (ASYNC110) on purpose: they are test
    # conveniences over arbitrary state, and a failed wait should read as an assertion.
    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Poll `predicate` until it is true; fail the test after `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
        except TimeoutError:
            raise AssertionError(f"condition not met within {timeout} s") from None

    async def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:  # noqa: ASYNC109
        """Wait until at least `n` requests have arrived; return all recorded so far."""
        await self.wait_until(lambda: len(self.requests) >= n, timeout)
        return list(self.requests)

    async def hold(self) -> None:
        """Wait until the server closes (a request that never gets an answer)."""
        assert self._closing is not None
        await self._closing.wait()

    async def pause(self, seconds: float) -> bool:
        """Sleep `seconds`; return False early if the server is closing."""
        assert self._closing is not None
        if seconds <= 0:
            return not self._closing.is_set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._closing.wait()
        return not self._closing.is_set()


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
        reject_stream_options: bool = False,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.models = list(models) if models is not None else None
        self.chunk_delay = chunk_delay
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
                if sent and not await self.pause(self.chunk_delay):
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
