"""The door's limits on what a request may carry, checked before anything is parsed or stored.

JSON is refused before parsing when it nests deeper than the store keeps (so the parser never
recurses past it), and after parsing when it holds a value the store would refuse or change:
an integer outside the signed 64-bit range, a non-finite number, text that is not valid
Unicode. Query strings must percent-decode to UTF-8, and every path or query value must be
valid Unicode. The checks of parsed values are the store's own (`storage.limits`), so the door
and the store cannot disagree; the store runs them again as the last line of defence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from itertools import accumulate
from typing import Any, Final, NoReturn
from urllib.parse import unquote_to_bytes

from aiohttp import web

from bot.api.errors import ApiError
from storage.errors import InvalidValue
from storage.limits import MAX_INT, MAX_JSON_DEPTH, MIN_INT, check_json, check_text

__all__ = ["MAX_JSON_DEPTH", "check_url", "load_json", "url_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# A JSON string literal (the parser ends a string at the same quote), then the brackets.
_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET: Final = re.compile(r"[^\[\]{}]+")
_STEP: Final = {"[": 1, "{": 1, "]": -1, "}": -1}
# Digits of the widest integer in range (MIN_INT, with its sign).
_MAX_INT_CHARS: Final = len(str(MIN_INT))


def load_json(text: str, *, what: str, field: str | None = None) -> Any:
    """`text` parsed as JSON, refused (400) when it nests deeper than MAX_JSON_DEPTH or is not
    JSON, and (422, naming the field) when a value is one the store cannot keep. `what` names
    the text in messages ("The request body")."""
    depth = nesting_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ApiError(
            400,
            "too_deep",
            f"{what} nests objects and arrays {depth} levels deep; the limit is "
            f"{MAX_JSON_DEPTH} levels.",
            field=field,
        )
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        problem = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except _NotJson as exc:
        problem = str(exc)
    else:
        check_values(value, field=field)
        return value
    raise ApiError(400, "malformed_json", f"{what} is not valid JSON: {problem}.", field=field)


def nesting_depth(text: str) -> int:
    """How deeply objects and arrays nest in the JSON `text`, counted without parsing.

    Brackets inside string literals do not count. For malformed text the count may be too
    high, never lower than the depth the parser reaches before it fails.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    return max(accumulate(map(_STEP.__getitem__, brackets)))


def check_values(value: Any, *, field: str | None = None) -> None:
    """422 unless every value in the parsed JSON can be stored as is; the keys of a body
    object are the field names."""
    if isinstance(value, dict) and field is None:
        items = list(value.items())
    else:
        items = [(field or "body", value)]
    for name, item in items:
        try:
            check_text(name, field="name of a field")
        except InvalidValue as exc:
            raise ApiError(422, "invalid_text", f"The {exc.field} {exc.problem}.") from None
        try:
            check_json(item, field=name)
        except InvalidValue as exc:  # the problem names the value's place in the field
            raise ApiError(422, "invalid_value", f"{exc.problem}.", field=name) from None


def _bounded_int(digits: str) -> int:
    """Parse a JSON integer; one too long to be in range becomes a stand-in out of range, so
    that Python's limit on long integer strings is never reached and the check names it."""
    if len(digits) <= _MAX_INT_CHARS:
        return int(digits)
    return MIN_INT - 1 if digits.startswith("-") else MAX_INT + 1


class _NotJson(ValueError):
    pass


def _reject_constant(name: str) -> NoReturn:
    raise _NotJson(f"{name} is not JSON")


def check_url(request: web.Request) -> None:
    """422 unless the query string percent-decodes to UTF-8 and every path and query value
    is valid Unicode, naming the parameter."""
    for part in request.rel_url.raw_query_string.split("&"):
        try:
            unquote_to_bytes(part.replace("+", " ")).decode("utf-8")
        except UnicodeDecodeError:
            name = unquote_to_bytes(part.partition("=")[0]).decode("utf-8", "replace")
            raise ApiError(
                422,
                "invalid_query",
                f"{name}: the parameter is not percent-encoded UTF-8 text.",
                field=name,
            ) from None
    values = [*request.query.items(), *request.match_info.items()]
    for name, value in values:
        try:
            check_text(name, field="name of a parameter")
            check_text(value, field=f"value of {name}")
        except InvalidValue as exc:
            raise ApiError(422, "invalid_text", f"The {exc.field} {exc.problem}.") from None


@web.middleware
async def url_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a request whose path or query is not valid text before any handler runs."""
    check_url(request)
    return await handler(request)
