"""Discord misbehaving on purpose: rate limits (429) and server errors (5xx) on chosen routes.

A test arms a fault for the next N requests that match a method and a route template (or any
API request); the fake then answers those requests the way Discord does:

- a route rate limit: 429 with ``{"message", "retry_after", "global": false}`` and the
  ``Retry-After`` (whole seconds, rounded up), ``X-RateLimit-Limit/-Remaining/-Reset/
  -Reset-After/-Bucket`` and ``X-RateLimit-Scope: user|shared`` headers;
- the global rate limit: 429 with ``"global": true``, ``X-RateLimit-Global: true`` and
  ``X-RateLimit-Scope: global`` (no bucket headers, as Discord sends);
- a server error: 500 (JSON), or 502/503/504 (text from the proxy in front of the API).
  With ``after=True`` the request takes effect first and only its answer is lost, as when
  Discord's edge times out on a request the API completed: the case a client cannot tell from
  one that never arrived.

Every request stays recorded (`FakeHTTPServer.requests`), with the fault it got in
`RecordedRequest.injected`, so a test can count sends and edits. A fault matches requests by
their shape only; the fake never knows which bot or test sends them. `Nonces` is what makes
a repeated message create safe on Discord: `enforce_nonce`.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web

from tests.fakes.discord_objects import Payload
from tests.fakes.discord_records import DiscordError, SentMessage
from tests.fakes.discord_world import World
from tests.fakes.http import RecordedRequest

API = "/api/v10"
Scope = Literal["user", "shared", "global"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]
SERVER_ERROR_TEXT = {
    500: None,  # the API itself: JSON
    502: "<html><head><title>502 Bad Gateway</title></head></html>",
    503: "upstream connect error or disconnect/reset before headers. reset reason: overflow",
    504: "<html><head><title>504 Gateway Time-out</title></head></html>",
}


def route_pattern(method: str | None, route: str | None) -> tuple[str | None, re.Pattern[str]]:
    """A method and a route template (``/channels/{channel}/messages``) as a path matcher."""
    if route is None:
        return method, re.compile(re.escape(API) + r"/.*")
    parts = re.split(r"\{[^}]+\}", route)
    regex = "[^/]+".join(re.escape(part) for part in parts)
    return method, re.compile(re.escape(API) + regex)


def matches(request: RecordedRequest, method: str | None, route: str | None) -> bool:
    wanted, pattern = route_pattern(method, route)
    return (wanted is None or request.method == wanted) and bool(pattern.fullmatch(request.path))


@dataclass(eq=False)
class Fault:
    """One armed fault: how to answer, and for how many more matching requests."""

    method: str | None
    route: str | None
    status: int
    remaining: int | None  # None: until cleared
    retry_after: float = 0.0
    scope: Scope = "user"
    after: bool = False
    hits: list[RecordedRequest] = field(default_factory=list)

    def takes(self, request: RecordedRequest) -> bool:
        if self.remaining == 0 or request.path.startswith(f"{API}/gateway"):
            return False
        return matches(request, self.method, self.route)

    def answer(self) -> web.Response:
        if self.status == 429:
            return self._rate_limited()
        text = SERVER_ERROR_TEXT.get(self.status)
        if text is None:
            body = {"message": f"{self.status}: Internal Server Error", "code": 0}
            return web.json_response(body, status=self.status)
        return web.Response(text=text, status=self.status, content_type="text/plain")

    def _rate_limited(self) -> web.Response:
        is_global = self.scope == "global"
        body = {"message": "You are being rate limited.", "retry_after": self.retry_after}
        body["global"] = is_global
        headers = {
            "Retry-After": str(math.ceil(self.retry_after)),
            "X-RateLimit-Scope": self.scope,
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            reset_after = f"{self.retry_after:.3f}"
            headers |= {
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + self.retry_after:.3f}",
                "X-RateLimit-Reset-After": reset_after,
                "X-RateLimit-Bucket": uuid.uuid5(uuid.NAMESPACE_URL, str(self.route)).hex,
            }
        return web.Response(
            body=json.dumps(body).encode(),
            status=429,
            headers=headers,
            content_type="application/json",
        )


class Faults:
    """The armed faults of one fake Discord, checked in the order they were armed."""

    def __init__(self) -> None:
        self.armed: list[Fault] = []

    def rate_limit(
        self,
        method: str | None = None,
        route: str | None = None,
        *,
        retry_after: float = 0.1,
        times: int = 1,
        scope: Scope = "user",
    ) -> Fault:
        """Answer the next `times` matching requests with 429 (`scope="global"`: the global
        limit)."""
        return self._arm(Fault(method, route, 429, times, retry_after, scope))

    def server_error(
        self,
        method: str | None = None,
        route: str | None = None,
        *,
        status: int = 500,
        times: int | None = 1,
        after: bool = False,
    ) -> Fault:
        """Answer the next `times` matching requests (None: all, until `clear`) with `status`;
        with `after`, each request takes effect before its answer is lost."""
        if status not in SERVER_ERROR_TEXT:
            raise ValueError(f"server errors are one of {sorted(SERVER_ERROR_TEXT)}")
        return self._arm(Fault(method, route, status, times, after=after))

    def middleware(self, recorded: web.RequestKey[RecordedRequest]) -> Middleware:
        """The aiohttp middleware that answers with the armed faults (`recorded`: where the
        fake keeps each request's record)."""

        @web.middleware
        async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
            record = request.get(recorded)
            fault = self.take(record) if record is not None else None
            if fault is None:
                return await handler(request)
            if fault.after:  # the request takes effect; only its answer is lost
                with contextlib.suppress(DiscordError):
                    await handler(request)
            return fault.answer()

        return faults

    def clear(self) -> None:
        """Disarm every fault: Discord answers normally again."""
        self.armed.clear()

    def take(self, request: RecordedRequest) -> Fault | None:
        """The fault that answers `request`, if one is armed for it (counting it down)."""
        for fault in self.armed:
            if fault.takes(request):
                if fault.remaining is not None:
                    fault.remaining -= 1
                fault.hits.append(request)
                request.injected = fault.status
                return fault
        return None

    def _arm(self, fault: Fault) -> Fault:
        self.armed.append(fault)
        return fault


class Nonces:
    """Discord's `enforce_nonce` on message create: within a few minutes, a message with the
    nonce of one its author already created is not created again; Discord answers with the
    earlier message (and refuses the nonce of one deleted since)."""

    WINDOW = 300.0  # seconds a nonce is remembered ("the past few minutes")

    def __init__(self, world: World) -> None:
        self.world = world
        self._seen: dict[tuple[int, str], tuple[int, float]] = {}

    def earlier(self, body: Payload) -> SentMessage | None:
        """The bot's message created lately with this create body's nonce, if enforced."""
        nonce = body.get("nonce")
        if nonce is None or not body.get("enforce_nonce"):
            return None
        found = self._seen.get((self.world.bot_id, str(nonce)))
        if found is None or time.monotonic() - found[1] > self.WINDOW:
            return None
        sent = self.world.bot_messages.get(found[0])
        if sent is None or sent.deleted:
            problem = ("nonce", "NONCE_ALREADY_USED", "This nonce was used by a deleted message")
            raise DiscordError.invalid_form([problem])
        return sent

    def remember(self, body: Payload, sent: SentMessage) -> None:
        """Note a created message's nonce (Discord echoes it in the message)."""
        nonce = body.get("nonce")
        if nonce is not None:
            sent.payload["nonce"] = nonce
            self._seen[(self.world.bot_id, str(nonce))] = (sent.id, time.monotonic())
