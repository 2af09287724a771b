"""Bearer-token authentication and the body size limit, checked before any handler runs."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.api.errors import ApiError
from bot.api.state import state

__all__ = ["auth_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """401 unless `Authorization: Bearer <token>` matches; 413 for a declared oversized body.

    Nothing is read, stored or changed for a rejected request. The token is compared in
    constant time and never logged or echoed.
    """
    settings = state(request)
    header = request.headers.get("Authorization")
    if header is None:
        raise ApiError(
            401,
            "unauthorized",
            "Missing Authorization header; send `Authorization: Bearer <SESSIONBOT_API_TOKEN>`.",
        )
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise ApiError(
            401,
            "unauthorized",
            "The Authorization header must be `Bearer <SESSIONBOT_API_TOKEN>`.",
        )
    if not hmac.compare_digest(given.strip().encode(), settings.token.encode()):
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
