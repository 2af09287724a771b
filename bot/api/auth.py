"""Bearer-token authentication and the body size limit, checked before any handler runs."""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from bot.api.errors import ApiError
from bot.api.state import state

__all__ = ["OPEN_ROUTES", "auth_middleware", "bearer_token"]

_PRINTABLE_ASCII: Final = re.compile(rb"[\x20-\x7e]*")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Routes that need no API token: the health probe, and metrics (which have a token of their own).
OPEN_ROUTES: Final = frozenset({"healthz", "metrics"})


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """401 unless `Authorization: Bearer <token>` matches; 413 for a declared oversized body.

    Nothing is read, stored or changed for a rejected request. The token is compared in
    constant time and never logged or echoed.
    """
    if request.match_info.route.name in OPEN_ROUTES:
        return await handler(request)
    settings = state(request)
    given = bearer_token(request)
    if not hmac.compare_digest(given, settings.token.encode()):
        raise ApiError(401, "unauthorized", "The API token is not valid.")
    length = request.content_length
    if length is not None and length > settings.max_body:
        raise ApiError(
            413,
            "body_too_large",
            f"The request body is {length} bytes; the limit is {settings.max_body} "
            "(SESSIONBOT_API_MAX_BODY).",
        )
    return await handler(request)


def bearer_token(request: web.Request, *, setting: str = "SESSIONBOT_API_TOKEN") -> bytes:
    """The token of the one `Authorization: Bearer <token>` header, as the bytes sent
    (401 naming `setting` when there is none).

    Read from the raw header bytes, so that no decoding can fail on what a client sends; a
    header that is not printable ASCII is refused without being echoed or logged.
    """
    headers = [value for name, value in request.raw_headers if name.lower() == b"authorization"]
    if not headers:
        raise ApiError(
            401,
            "unauthorized",
            f"Missing Authorization header; send `Authorization: Bearer <{setting}>`.",
        )
    header = headers[0].strip()
    if len(headers) > 1 or not _PRINTABLE_ASCII.fullmatch(header):
        raise ApiError(
            401,
            "unauthorized",
            f"Send one Authorization header, in printable ASCII: `Bearer <{setting}>`.",
        )
    scheme, _, given = header.partition(b" ")
    if scheme.lower() != b"bearer" or not given.strip():
        raise ApiError(
            401,
            "unauthorized",
            f"The Authorization header must be `Bearer <{setting}>`.",
        )
    return given.strip()
