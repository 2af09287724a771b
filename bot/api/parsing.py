"""Reading requests: JSON bodies (400 if malformed), typed fields (422 naming the field), ids."""

from __future__ import annotations

import asyncio
import difflib
from typing import Any, NoReturn, TypeVar
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot.api.errors import ApiError
from bot.api.limits import load_json
from bot.api.state import state

__all__ = ["path_session_id", "read_body", "validation_error"]

M = TypeVar("M", bound=BaseModel)


async def read_body(request: web.Request, model: type[M]) -> M:
    """The request's JSON object body validated as `model`."""
    data = _decode(await _read(request))
    if not isinstance(data, dict):
        raise ApiError(
            400,
            "malformed_body",
            f"The request body must be a JSON object, not {_json_kind(data)}.",
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        validation_error(exc, model)


async def _read(request: web.Request) -> bytes:
    """The whole body, within the size limit (the application's client_max_size) and the
    time limit (a client that declares more than it sends is not waited for forever)."""
    settings = state(request)
    try:
        async with asyncio.timeout(settings.body_timeout):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(
            413,
            "body_too_large",
            f"The request body is over the limit of {settings.max_body} bytes "
            "(SESSIONBOT_API_MAX_BODY).",
        ) from None
    except TimeoutError:
        raise ApiError(
            408,
            "body_timeout",
            f"The request body did not arrive within {settings.body_timeout:g} seconds; "
            "send as many bytes as Content-Length says.",
        ) from None
    except web.RequestPayloadError:
        raise ApiError(
            400, "malformed_body", "The request body could not be read (broken framing)."
        ) from None


def _decode(raw: bytes) -> Any:
    if not raw.strip():
        raise ApiError(400, "malformed_body", "The request body is empty; send a JSON object.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "malformed_body", "The request body is not UTF-8 text.") from None
    return load_json(text, what="The request body")


def _json_kind(value: object) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")


def validation_error(exc: ValidationError, model: type[BaseModel]) -> NoReturn:
    """Raise the 422 for a pydantic error: the first problem, with its field path."""
    errors = exc.errors(include_url=False, include_input=False)
    paths = list(dict.fromkeys(_field_path(error["loc"]) for error in errors))
    first = errors[0]
    field = paths[0] or None
    if first["type"] == "extra_forbidden":
        message = f"unknown field {field!r}"
        close = difflib.get_close_matches(str(field), list(model.model_fields), n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
    else:
        message = str(first["msg"]).removeprefix("Value error, ")
        message = f"{field}: {message}" if field else message
    if len(paths) > 1:
        message += f" (and {len(paths) - 1} more field{'s' if len(paths) > 2 else ''})"
    raise ApiError(422, "invalid_field", message + ".", field=field)


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "none", "list", "dict"})


def _field_path(loc: tuple[int | str, ...]) -> str:
    """`messages.0.content` from pydantic's location, without the tags it adds for the
    members of a union (`str`, `list[...]`, `TextPart`, `function-after[...]`)."""
    parts = [
        str(part)
        for part in loc
        if isinstance(part, int)
        or not (part in _TYPE_TAGS or "[" in part or "-" in part or part[:1].isupper())
    ]
    return ".".join(parts)


def path_session_id(request: web.Request) -> UUID:
    """The `{session_id}` of the path; 404 if it is not a UUID (so it names no session)."""
    text = request.match_info["session_id"]
    try:
        return UUID(text)
    except ValueError:
        raise ApiError(
            404,
            "session_not_found",
            f"There is no session with id {text!r}: session ids are UUIDs. "
            "List the sessions to find the right id.",
        ) from None
