"""Query strings of the list endpoints: pagination, sorting and Julep's `metadata_filter`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

from multidict import MultiMapping

from bot.api.errors import ApiError
from bot.api.limits import load_json
from storage import ListQuery, SessionStatus

__all__ = ["ListParams", "integer_param", "parse_list_params"]

FILTER_PREFIX: Final = "metadata_filter."
MAX_LIMIT: Final = 1000
DEFAULT_LIMIT: Final = 100

_PAGING: Final = frozenset({"limit", "offset", "sort_by", "direction", "metadata_filter"})
_SESSION_FILTERS: Final = frozenset({"tag", "agent", "agent_id", "user", "user_id", "status"})


@dataclass(frozen=True)
class ListParams:
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    sort_by: Literal["created_at", "updated_at"] = "created_at"
    direction: Literal["asc", "desc"] = "desc"
    metadata_filter: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    agent_id: str | None = None
    user_id: str | None = None
    status: SessionStatus | None = None

    def query(self) -> ListQuery:
        """The store query these parameters ask for."""
        return ListQuery(
            metadata_filter=self.metadata_filter,
            tags_all=self.tags,
            agent_id=self.agent_id,
            user_id=self.user_id,
            status=self.status,
            order_by=self.sort_by,
            direction=self.direction,
            limit=self.limit,
            offset=self.offset,
        )


def parse_list_params(query: MultiMapping[str], *, sessions: bool = True) -> ListParams:
    """Read and check the query string; an unknown parameter is an error, not ignored, so a
    misspelt filter never silently lists everything."""
    allowed = _PAGING | _SESSION_FILTERS if sessions else _PAGING
    for key in query:
        if key not in allowed and not key.startswith(FILTER_PREFIX):
            known = ", ".join(sorted(allowed | {FILTER_PREFIX + "<key>"}))
            raise ApiError(
                422,
                "invalid_query",
                f"unknown query parameter {key!r}; this endpoint takes {known}.",
                field=key,
            )
    return ListParams(
        limit=integer_param(query, "limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT),
        offset=integer_param(query, "offset", 0, low=0, high=2**62),
        sort_by=cast(
            Literal["created_at", "updated_at"],
            _choice(query, "sort_by", ("created_at", "updated_at"), "created_at"),
        ),
        direction=cast(
            Literal["asc", "desc"], _choice(query, "direction", ("asc", "desc"), "desc")
        ),
        metadata_filter=_metadata_filter(query),
        tags=query.getall("tag", []),
        agent_id=_same(query, ("agent", "agent_id")),
        user_id=_same(query, ("user", "user_id")),
        status=_status(query),
    )


def _single(query: MultiMapping[str], name: str) -> str | None:
    values = query.getall(name, [])
    if len(values) > 1:
        raise ApiError(
            422, "invalid_query", f"{name}: give it once, not {len(values)} times.", field=name
        )
    return values[0] if values else None


def integer_param(query: MultiMapping[str], name: str, default: int, *, low: int, high: int) -> int:
    text = _single(query, name)
    if text is None:
        return default
    try:
        value = int(text, 10)
    except ValueError:
        raise ApiError(
            422, "invalid_query", f"{name}: {text!r} is not a whole number.", field=name
        ) from None
    if not low <= value <= high:
        raise ApiError(
            422, "invalid_query", f"{name}: must be from {low} to {high}, not {value}.", field=name
        )
    return value


def _choice(query: MultiMapping[str], name: str, choices: Iterable[str], default: str) -> str:
    text = _single(query, name)
    if text is None:
        return default
    options = list(choices)
    if text not in options:
        raise ApiError(
            422,
            "invalid_query",
            f"{name}: must be one of {', '.join(options)}, not {text!r}.",
            field=name,
        )
    return text


def _same(query: MultiMapping[str], names: Iterable[str]) -> str | None:
    """One value given under any of `names` (Julep's current and older spellings)."""
    values = {value for name in names for value in query.getall(name, [])}
    if len(values) > 1:
        label = "/".join(names)
        raise ApiError(
            422, "invalid_query", f"{label}: give one value, not {len(values)}.", field=label
        )
    return values.pop() if values else None


def _status(query: MultiMapping[str]) -> SessionStatus | None:
    text = _choice(query, "status", ("active", "ended", "all"), "all")
    return None if text == "all" else SessionStatus(text)


def _metadata_filter(query: MultiMapping[str]) -> dict[str, Any]:
    """`metadata_filter.KEY=VALUE` (the julep SDK's spelling) matches the string VALUE;
    `metadata_filter={"KEY": JSON}` (one JSON object) matches typed values: numbers, booleans,
    null, objects. Several conditions must all hold."""
    wanted: dict[str, Any] = {}
    text = _single(query, "metadata_filter")
    if text is not None:
        try:
            parsed = load_json(text, what="metadata_filter", field="metadata_filter")
        except ApiError as exc:  # in a query, unreadable JSON is a bad value like any other
            raise ApiError(422, "invalid_query", exc.message, field="metadata_filter") from None
        if not isinstance(parsed, dict):
            raise ApiError(
                422,
                "invalid_query",
                'metadata_filter: must be a JSON object such as {"db_uuid": "1234"}, or use '
                "metadata_filter.KEY=VALUE parameters.",
                field="metadata_filter",
            )
        wanted.update(parsed)
    for name in query:
        if not name.startswith(FILTER_PREFIX):
            continue
        key = name.removeprefix(FILTER_PREFIX)
        if not key:
            raise ApiError(
                422,
                "invalid_query",
                "metadata_filter.: the metadata key is missing (metadata_filter.KEY=VALUE).",
                field=name,
            )
        value = _single(query, name)
        if key in wanted and wanted[key] != value:
            raise ApiError(422, "invalid_query", f"{name}: the key is filtered twice.", field=name)
        wanted[key] = value
    return wanted
