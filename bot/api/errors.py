"""API errors: one JSON shape, `{"error": {"code", "message", "field"?}}`, for every failure.

Handlers raise `ApiError` (or let a domain error escape); `error_middleware` turns each into a
response with the right status. Every error response also says `x-should-retry: false`: the
julep SDK otherwise retries 409 and 5xx, and repeating a chat whose user message was already
stored would store it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from bot.engine.errors import (
    LLMError,
    LLMRateLimited,
    LLMTimeout,
    PersonaUnavailable,
    SessionbotError,
    SituationFailed,
)
from storage.errors import (
    AnsweredMessageGone,
    BindingConflict,
    DatabaseBusy,
    DuplicateSession,
    InvalidCursor,
    InvalidMetadata,
    InvalidValue,
    SessionEnded,
    SessionNotFound,
    StorageError,
)

__all__ = ["ApiError", "error_body", "error_middleware", "error_response"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

NO_RETRY: Final = {"x-should-retry": "false"}

_HTTP_CODES: Final[dict[int, tuple[str, str]]] = {
    400: ("bad_request", "The request is malformed."),
    401: ("unauthorized", "Send the header `Authorization: Bearer <SESSIONBOT_API_TOKEN>`."),
    404: ("not_found", "There is no such endpoint; see the HTTP API section of README.md."),
    405: ("method_not_allowed", "This endpoint does not take that method."),
    408: ("body_timeout", "The request body did not arrive in time."),
    413: ("body_too_large", "The request body is larger than SESSIONBOT_API_MAX_BODY allows."),
}


class ApiError(Exception):
    """An expected failure with its HTTP status, a stable `code` and a sentence for people."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> web.Response:
    """The JSON error response; after a 408 the connection is closed, since the body that
    did not arrive in time cannot be told apart from the next request."""
    response = web.json_response(
        error_body(error.code, error.message, error.field),
        status=error.status,
        headers={**NO_RETRY, **(headers or {})},
    )
    if error.status == 408:
        response.force_close()
    return response


def from_domain(exc: SessionbotError | StorageError) -> ApiError:
    """The API error for a domain error; its sentence is shown as is."""
    message = str(exc)
    match exc:
        case SessionNotFound():
            return ApiError(404, "session_not_found", message)
        case SessionEnded():
            return ApiError(409, "session_ended", message)
        case BindingConflict():
            return ApiError(409, "binding_conflict", message)
        case DuplicateSession():
            return ApiError(409, "session_exists", message)
        case InvalidMetadata():
            return ApiError(422, "invalid_metadata", message, field="metadata")
        case InvalidValue():
            return ApiError(422, "invalid_value", message, field=exc.field)
        case AnsweredMessageGone():
            return ApiError(409, "reply_discarded", message)
        case DatabaseBusy():
            return ApiError(503, "database_busy", message)
        case InvalidCursor():
            return ApiError(422, "invalid_cursor", message)
        case PersonaUnavailable():
            return ApiError(409, "agent_unavailable", message)
        case SituationFailed():
            return ApiError(409, "situation_failed", message)
        case LLMRateLimited():
            return ApiError(503, "model_rate_limited", message)
        case LLMTimeout():
            return ApiError(504, "model_timeout", message)
        case LLMError():
            return ApiError(502, "model_failed", message)
    log.error("API: no status for %s: %s", type(exc).__name__, message)
    return ApiError(500, "server_error", message)


def from_http(exc: web.HTTPException) -> ApiError:
    code, message = _HTTP_CODES.get(exc.status, ("http_error", exc.reason))
    return ApiError(exc.status, code, message)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: every failure leaves as a JSON error body."""
    try:
        return await handler(request)
    except ApiError as exc:
        _log_expected(request, exc)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc, headers)
    except (SessionbotError, StorageError) as exc:
        error = from_domain(exc)
        _log_expected(request, error)
        return error_response(error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = from_http(exc)
        _log_expected(request, error)
        allow = exc.headers.get("Allow")
        return error_response(error, {"Allow": allow} if allow else None)
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        error = ApiError(
            500, "internal_error", "Something went wrong on the server; the error was logged."
        )
        return error_response(error)


def _log_expected(request: web.Request, error: ApiError) -> None:
    log.debug("%s %s -> %d %s", request.method, request.path, error.status, error.code)
