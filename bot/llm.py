"""The OpenAI-compatible client behind the ChatModel protocol of `bot.engine.chatmodel`.

This is the only module that imports `openai`. Everything else speaks `ChatRequest`, `ChatStream`
and the errors in `bot.engine.errors`; the protocol types are re-exported here for convenience.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack
from typing import Any, Protocol, Self
from urllib.parse import urlsplit, urlunsplit

import httpx2
import openai
import orjson
from openai.types import CompletionUsage

from bot.engine.chatmodel import ChatMessage, ChatModel, ChatRequest, ChatStream, Usage
from bot.engine.errors import LLMError, LLMRateLimited, LLMRejected, LLMTimeout, LLMUnavailable
from bot.sse import SSEDecoder, drain, is_connection_failure, is_timeout, is_transport_error

__all__ = [
    "ChatMessage",
    "ChatModel",
    "ChatRequest",
    "ChatStream",
    "OpenAIChatModel",
    "OpenAIChatStream",
    "Usage",
]

log = logging.getLogger(__name__)

_CONNECT_TIMEOUT = 10.0
_DETAIL_LIMIT = 200
_DRAIN_TIMEOUT = 0.1  # seconds to read the end of a body after ``[DONE]``


class _HTTPResponse(Protocol):
    """What is read of the SDK's raw HTTP response: its body as it arrives."""

    def aiter_bytes(self) -> AsyncGenerator[bytes, None]: ...


class OpenAIChatModel:
    """`ChatModel` over any OpenAI-compatible chat completions server.

    `timeout` is the longest wait for the server to answer or to send the next chunk (seconds);
    connecting gets at most 10 s. The SDK retries connection errors, timeouts, 429 and 5xx up to
    `max_retries` times with backoff (honouring Retry-After) before the first token; errors are
    raised as `bot.engine.errors.LLMError` subclasses.

    With `stream_usage`, streams ask for token usage (``stream_options.include_usage``). Some
    OpenAI-compatible servers reject that option: when a stream request gets a 400 that mentions
    ``stream_options``, it is retried once without it, and this instance stops sending it (its
    streams then report `usage` None).
    """

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str,
        timeout: float = 60.0,
        max_retries: int = 3,
        stream_usage: bool = True,
    ) -> None:
        self._timeout = timeout
        self._max_retries = max_retries
        self._api_key = api_key
        self._stream_usage = stream_usage
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key,
            timeout=openai.Timeout(timeout, connect=min(_CONNECT_TIMEOUT, timeout)),
            max_retries=max_retries,
            http_client=_http_client(base_url),
        )
        self._server = _display_url(str(self._client.base_url))

    @property
    def stream_usage(self) -> bool:
        """Whether streams still ask the server for usage (False after a rejection)."""
        return self._stream_usage

    def stream(self, request: ChatRequest) -> OpenAIChatStream:
        """A stream of the reply to `request`; nothing is sent until it is iterated."""
        return OpenAIChatStream(self, request)

    async def complete(self, request: ChatRequest) -> tuple[str, Usage | None]:
        """The whole reply to `request` in one response, and its usage if the server sent it."""
        self._log_request(request, stream=False)
        try:
            completion = await self._client.chat.completions.create(
                **_request_params(request), stream=False
            )
        except openai.APIError as exc:
            raise self._translate(exc, request) from exc
        if not completion.choices:
            raise LLMUnavailable(
                f"The language model server at {self._server} sent an empty answer; try again."
            )
        text = completion.choices[0].message.content or ""
        log.debug("reply from %s: %r", request.model, text)
        return text, _usage(completion.usage)

    async def close(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _open_stream(self, request: ChatRequest, stack: AsyncExitStack) -> _HTTPResponse:
        """Send a streaming request (used by `OpenAIChatStream`); errors come as LLMError.

        The SDK builds, authenticates, retries and checks the request; its response is read raw
        (`bot.sse`, orjson): the SDK's per-chunk models cost several times what the rest of
        a reply costs the bot. The request goes through the SDK's documented `post` for custom
        requests, which skips its typed-params transform (about 0.1 ms a reply). The response
        is closed with `stack`.
        """
        self._log_request(request, stream=True)
        body = _stream_body(request)
        try:
            if self._stream_usage:
                try:
                    usage = {"include_usage": True}
                    return await self._post_stream(body | {"stream_options": usage}, stack)
                except openai.BadRequestError as exc:
                    if not _mentions_stream_options(exc):
                        raise
                    log.warning(
                        "%s does not accept stream_options; streaming without usage from now on",
                        self._server,
                    )
                    self._stream_usage = False
            return await self._post_stream(body, stack)
        except openai.APIError as exc:
            raise self._translate(exc, request) from exc

    async def _post_stream(self, body: dict[str, Any], stack: AsyncExitStack) -> _HTTPResponse:
        response = await self._client.post(
            "/chat/completions", cast_to=httpx2.Response, content=_encoded(body), stream=True
        )
        stack.push_async_callback(response.aclose)
        return response

    def _translate_stream_error(self, exc: Exception) -> LLMError:
        """The LLMError for a transport failure after the stream started."""
        if is_timeout(exc) and not is_connection_failure(exc):
            return self._timed_out()
        log.debug("stream from %s broke off: %s", self._server, type(exc).__name__)
        return LLMUnavailable(
            f"The connection to the language model server at {self._server} broke off "
            "in the middle of the reply; try again."
        )

    def _error_event(self, error: object) -> LLMError:
        """The LLMError for an ``{"error": ...}`` event in the middle of a stream."""
        message = error.get("message") if isinstance(error, dict) else None
        if not message or not isinstance(message, str):
            message = "An error occurred during streaming"
        log.debug("stream from %s reported an error", self._server)
        return LLMError(
            f"The language model server at {self._server} reported an error in the middle of "
            f"the reply ({self._detail(message)}); try again, and check the server's logs if "
            "it keeps happening."
        )

    def _unreadable(self) -> LLMError:
        return LLMError(
            f"The language model server at {self._server} sent a reply that could not be read; "
            "check that OPENAI_BASE_URL points at an OpenAI-compatible API."
        )

    def _timed_out(self) -> LLMTimeout:
        return LLMTimeout(
            f"The language model server at {self._server} did not answer within "
            f"{self._timeout:g} seconds; try again, or raise SESSIONBOT_LLM_TIMEOUT if the "
            "server is just slow."
        )

    def _log_request(self, request: ChatRequest, *, stream: bool) -> None:
        log.debug(
            "chat request to %s: model=%s messages=%d stream=%s",
            self._server,
            request.model,
            len(request.messages),
            stream,
        )
        if request.messages:
            log.debug("last message: %r", request.messages[-1]["content"])

    def _translate(self, exc: openai.APIError, request: ChatRequest) -> LLMError:
        """Map an SDK error to the LLMError a user sees (never with the API key in it)."""
        status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
        log.debug("request to %s failed: %s (status %s)", self._server, type(exc).__name__, status)
        if isinstance(exc, openai.APITimeoutError) and not is_connection_failure(exc):
            return self._timed_out()
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnavailable(
                f"The language model server at {self._server} could not be reached; "
                "check OPENAI_BASE_URL and that the server is running."
            )
        if isinstance(exc, openai.APIStatusError):
            return self._translate_status(exc, request)
        return self._unreadable()

    def _translate_status(self, exc: openai.APIStatusError, request: ChatRequest) -> LLMError:
        server, model, status = self._server, request.model, exc.status_code
        if isinstance(exc, openai.RateLimitError):
            return LLMRateLimited(
                f"The language model server at {server} is rate limiting requests; "
                "wait a minute and try again.",
                status_code=status,
            )
        if isinstance(exc, openai.AuthenticationError):
            message = f"The language model server at {server} rejected the API key; "
            return LLMRejected(message + "check OPENAI_API_KEY.", status_code=status)
        if isinstance(exc, openai.PermissionDeniedError):
            return LLMRejected(
                f"The language model server at {server} refused access to model '{model}'; "
                "check that OPENAI_API_KEY may use it, or choose another with SESSIONBOT_MODEL.",
                status_code=status,
            )
        if isinstance(exc, openai.NotFoundError):
            return LLMRejected(
                f"The model '{model}' was not found at {server}; check SESSIONBOT_MODEL "
                "(or the persona's model) and OPENAI_BASE_URL.",
                status_code=status,
            )
        if status >= 500:
            return LLMUnavailable(
                f"The language model server at {server} failed with HTTP {status}"
                f"{' after retries' if self._max_retries else ''}; try again in a minute.",
                status_code=status,
            )
        return LLMRejected(
            f"The language model server at {server} rejected the request for model '{model}' "
            f"(HTTP {status}: {self._detail(exc.message)}); check the persona's model, "
            "temperature and max_tokens.",
            status_code=status,
        )

    def _detail(self, text: str) -> str:
        """A server message fit to show: one line, short, and never the API key."""
        text = " ".join(text.split())
        if self._api_key:
            text = text.replace(self._api_key, "***")
        if len(text) > _DETAIL_LIMIT:
            text = text[: _DETAIL_LIMIT - 1] + "…"
        return text or "no details"


class OpenAIChatStream:
    """The `ChatStream` of `OpenAIChatModel.stream`.

    Iterate it once: the request is sent on the first step, and each step yields a non-empty
    text delta. `usage` (and `finish_reason`) are set when the stream ends. A consumer that stops
    early should close it (``async with model.stream(r) as s:`` or `aclose()`); if it does not, the
    HTTP response is still closed once the iterator is dropped.
    """

    def __init__(self, model: OpenAIChatModel, request: ChatRequest) -> None:
        self._model = model
        self._request = request
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self._iterator: weakref.ref[AsyncGenerator[str, None]] | None = None

    def __aiter__(self) -> AsyncGenerator[str, None]:
        if self._iterator is not None:
            raise RuntimeError("a ChatStream can only be iterated once")
        iterator = self._deltas()
        self._iterator = weakref.ref(iterator)
        return iterator

    async def aclose(self) -> None:
        """Stop the stream and release its connection (safe to call at any time)."""
        iterator = self._iterator() if self._iterator is not None else None
        if iterator is not None:
            await iterator.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _deltas(self) -> AsyncGenerator[str, None]:
        model, request = self._model, self._request
        async with AsyncExitStack() as stack:
            response = await model._open_stream(request, stack)
            decoder, blocks, done = SSEDecoder(), response.aiter_bytes(), False
            try:
                async for block in blocks:
                    for data in decoder.feed(block):
                        if data.startswith(b"[DONE]"):
                            done = True
                            break
                        for text in self._absorb(data):
                            yield text
                    if done:
                        await drain(blocks, _DRAIN_TIMEOUT)
                        break
            except Exception as exc:
                if not is_transport_error(exc):
                    raise
                raise model._translate_stream_error(exc) from exc
        log.debug(
            "stream of %s ended: finish_reason=%s usage=%s",
            request.model,
            self.finish_reason,
            self.usage,
        )

    def _absorb(self, data: bytes) -> list[str]:
        """Record usage/finish reason from a chunk; return its text (empty deltas dropped)."""
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise self._model._unreadable() from exc
        if not isinstance(chunk, dict):
            raise self._model._unreadable()
        if chunk.get("error"):
            raise self._model._error_event(chunk["error"])
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = Usage(
                prompt_tokens=usage.get("prompt_tokens") or 0,
                completion_tokens=usage.get("completion_tokens") or 0,
            )
        texts: list[str] = []
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            if choice.get("finish_reason") is not None:
                self.finish_reason = choice["finish_reason"]
            content = (choice.get("delta") or {}).get("content")
            if content and isinstance(content, str):
                texts.append(content)
        return texts


def _stream_body(request: ChatRequest) -> dict[str, Any]:
    """The JSON body of a streamed chat completion, sent as it is."""
    body: dict[str, Any] = {
        "model": request.model,
        "messages": list(request.messages),
        "stream": True,
    }
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    return body


def _encoded(body: dict[str, Any]) -> bytes:
    """`body` as JSON, encoded by orjson (the SDK's own encoder costs several times as much for
    a 40-message context); text orjson refuses (a lone surrogate, which the SDK's encoder
    refuses too) is sent escaped, as JSON allows."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:
        return json.dumps(body).encode()


def _request_params(request: ChatRequest) -> dict[str, Any]:
    # The SDK walks `messages` through its typed-dict transform before sending, which costs
    # about 7 ms for a 40-message context (bench/bench_discord.py). Ours are plain role/content
    # strings that need no transforming, so they travel in `extra_body`, which the SDK sends
    # as it is (and which overrides the empty `messages`).
    params: dict[str, Any] = {
        "model": request.model,
        "messages": [],
        "extra_body": {"messages": [dict(message) for message in request.messages]},
    }
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.max_tokens is not None:
        params["max_tokens"] = request.max_tokens
    return params


def _usage(usage: CompletionUsage | None) -> Usage | None:
    if usage is None:
        return None
    return Usage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens)


def _mentions_stream_options(exc: openai.BadRequestError) -> bool:
    return "stream_options" in f"{exc.message} {exc.param} {exc.body}"


def _http_client(base_url: str | None) -> openai.DefaultAioHttpClient | None:
    """The SDK's aiohttp transport, which costs about half the CPU of its default (httpx2) per
    streamed reply (bench/bench_discord.py); None (the default) for a base URL with credentials
    in it, which aiohttp refuses beside the bearer token."""
    parts = urlsplit(base_url or "")
    if parts.username is not None or parts.password is not None:
        return None
    return openai.DefaultAioHttpClient()


def _display_url(url: str) -> str:
    """`url` without credentials or a trailing slash, for messages."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host)).rstrip("/")
