"""The connection handler: aiohttp's, except for requests its HTTP parser refuses.

aiohttp answers a request line or header it cannot parse with a plain-text 400 that quotes the
offending bytes, and logs it at ERROR with the same bytes; a header such as `Authorization:
Bearer <token>` followed by a NUL byte would put the token in both. Here such a request gets
our JSON 400, which quotes nothing, and one DEBUG line naming only the kind of error, so that
no client can write secrets or floods into the log. Every response says `Server: sessionbot`,
without versions.
"""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import web
from aiohttp.http import HttpProcessingError

from bot.api.errors import ApiError, error_response

__all__ = ["SERVER_NAME", "GuardedRequestHandler", "name_server"]

log = logging.getLogger(__name__)

SERVER_NAME: Final = "sessionbot"


class GuardedRequestHandler(web.RequestHandler):
    """aiohttp's RequestHandler whose answer to an unparsable request echoes nothing."""

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError):
            response = super().handle_error(request, status, exc, message)
            response.headers["Server"] = SERVER_NAME
            return response
        log.debug(
            "refused a malformed HTTP request from %s (%s)", request.remote, type(exc).__name__
        )
        if request.writer.output_size > 0:  # a response has begun: only closing is left
            raise ConnectionError("the request failed after its response had started")
        refusal = ApiError(
            400,
            "malformed_request",
            "The HTTP request line or headers are malformed (control characters, bad line "
            "endings or over 8190 bytes), so the request was not read.",
        )
        response = error_response(refusal, {"Server": SERVER_NAME})
        response.force_close()
        return response


async def name_server(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: say what serves the API without advertising versions."""
    response.headers["Server"] = SERVER_NAME
