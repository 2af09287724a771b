"""Property tests: list_sessions agrees with a plain-Python filter, and pages add up."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import ListQuery, Session, SessionStatus, Store, normalize_tags, opened_store
from tests.postgres_server import NO_POSTGRES, PostgresServer

KEYS = st.sampled_from(["a.b", 'q"t', "ü"])
DROP = "'; DROP TABLE sessions; --"
# Each stored value with look-alikes of other JSON types (or other orders) that must not match
# unless they are the same JSON value.
LOOK_ALIKES: dict[str, list[Any]] = {
    "null": [False, "", 0],
    "true": [1, 1.0, "1", [1]],
    "false": [0, None, ""],
    "0": [False, "0", 0.0],
    "1": [True, "1", 1.0, [1]],
    "2.5": ["2.5", 2],
    '"1"': [1, True],
    '""': [None, False],
    json.dumps(DROP): [DROP + " "],
    '"\\u00e9"': ["e\u0301", "E"],
    "[]": [{}, None],
    "[1]": [1, [True]],
    "[1, 2]": [[2, 1], [1]],
    '{"a": 1}': [{"a": True}, {"a": 1, "b": None}],
    '{"a": 1, "b": [0]}': [{"b": [0], "a": 1}, {"a": 1, "b": [False]}],
    '{"a": true}': [{"a": 1}],
}
VALUES = st.sampled_from([json.loads(text) for text in LOOK_ALIKES])
TAGS = st.lists(st.sampled_from(["alpha", "Beta", "gamma ray", "GAMMA  RAY", "δ"]), max_size=3)
PREFIXES = st.sampled_from(["discord:1:", "discord:10:", "cli:", "discord:dm:"])


@dataclass(frozen=True)
class Spec:
    agent_id: str
    user_id: str | None
    metadata: dict[str, Any]
    tags: list[str]
    key_prefix: str | None
    ended: bool


SPECS = st.builds(
    Spec,
    agent_id=st.sampled_from(["sara", "tutor"]),
    user_id=st.sampled_from([None, "u1", "u2"]),
    metadata=st.dictionaries(KEYS, VALUES, max_size=3),
    tags=TAGS,
    key_prefix=st.one_of(st.none(), PREFIXES),
    ended=st.booleans(),
)
FILTERS = st.fixed_dictionaries(
    {},
    optional={
        "metadata_filter": st.dictionaries(KEYS, VALUES, max_size=2),
        "tags_any": TAGS,
        "tags_all": TAGS,
        "agent_id": st.sampled_from(["sara", "tutor"]),
        "user_id": st.sampled_from(["u1", "u2"]),
        "status": st.sampled_from(list(SessionStatus)),
        "key_prefix": st.sampled_from(["discord:1", "discord:1:", "discord:", "cli:", ""]),
        "order_by": st.sampled_from(["created_at", "updated_at"]),
        "direction": st.sampled_from(["asc", "desc"]),
    },
)


def json_equal(stored: Any, wanted: Any) -> bool:
    """Equality of JSON values: types matter (true is not 1, "1" is not 1)."""
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return type(stored) is type(wanted) and stored == wanted
    numbers = (int, float)
    if isinstance(stored, numbers) and isinstance(wanted, numbers):
        return stored == wanted
    if isinstance(stored, numbers) or isinstance(wanted, numbers):
        return False
    return json.dumps(stored, sort_keys=True) == json.dumps(wanted, sort_keys=True)


def has_prefix(binding_key: str | None, prefix: str) -> bool:
    return binding_key is not None and binding_key.startswith(prefix)


def reference_filter(sessions: list[Session], filters: dict[str, Any]) -> list[Session]:
    """What list_sessions should return, computed in plain Python."""
    tags_any = set(normalize_tags(filters.get("tags_any", ())))
    tags_all = set(normalize_tags(filters.get("tags_all", ())))
    prefix = filters.get("key_prefix")

    def keep(session: Session) -> bool:
        return (
            all(
                key in session.metadata and json_equal(session.metadata[key], value)
                for key, value in filters.get("metadata_filter", {}).items()
            )
            and (not tags_any or bool(tags_any & set(session.tags)))
            and tags_all <= set(session.tags)
            and filters.get("agent_id", session.agent_id) == session.agent_id
            and filters.get("user_id", session.user_id) == session.user_id
            and filters.get("status", session.status) == session.status
            and (prefix is None or has_prefix(session.binding_key, prefix))
        )

    order_by = filters.get("order_by", "created_at")
    kept = [session for session in sessions if keep(session)]
    kept.sort(key=lambda s: (getattr(s, order_by), str(s.id)))
    if filters.get("direction", "desc") == "desc":
        kept.reverse()
    return kept


async def build(store: Store, specs: list[Spec]) -> list[Session]:
    sessions = []
    for index, spec in enumerate(specs):
        session = await store.create_session(
            agent_id=spec.agent_id,
            situation="s",
            user_id=spec.user_id,
            metadata=spec.metadata,
            tags=spec.tags,
            binding_key=None if spec.key_prefix is None else f"{spec.key_prefix}{index}",
        )
        if spec.ended:
            session = await store.end_session(session.id)
        sessions.append(session)
    return sessions


async def all_pages(store: Store, filters: dict[str, Any], limit: int) -> list[Session]:
    collected: list[Session] = []
    cursor = None
    while True:
        page = await store.list_sessions(ListQuery(**filters, limit=limit, cursor=cursor))
        collected.extend(page.items)
        if page.next_cursor is None:
            return collected
        cursor = page.next_cursor


@asynccontextmanager
async def fresh_store(backend: str, postgres: PostgresServer | None) -> AsyncIterator[Store]:
    """A new, empty store of `backend` for one example."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            async with opened_store(Path(directory) / "p.db") as store:
                yield store
        return
    if postgres is None:
        pytest.skip(NO_POSTGRES)
    async with postgres.fresh_database() as url, opened_store(url) as store:
        yield store


async def check_listing(
    specs: list[Spec], filters: dict[str, Any], limit: int, store_factory: Any
) -> None:
    async with store_factory() as store:
        sessions = await build(store, specs)
        expected = [s.id for s in reference_filter(sessions, filters)]
        unpaged = (await store.list_sessions(ListQuery(**filters, limit=1000))).items
        assert [s.id for s in unpaged] == expected
        assert await all_pages(store, filters, limit) == unpaged
        offsets = range(0, len(unpaged) + limit, limit)
        by_offset = [
            (await store.list_sessions(ListQuery(**filters, limit=limit, offset=offset))).items
            for offset in offsets
        ]
        assert [s for page in by_offset for s in page] == unpaged


def aim_at_stored_metadata(
    data: st.DataObject, specs: list[Spec], filters: dict[str, Any]
) -> dict[str, Any]:
    """Often filter by a stored key with its stored value or one of its look-alikes."""
    stored = [(key, value) for spec in specs for key, value in spec.metadata.items()]
    if not stored or data.draw(st.integers(0, 3), label="aim at stored metadata") == 0:
        return filters
    key, value = data.draw(st.sampled_from(stored), label="stored entry")
    look_alike = st.sampled_from(LOOK_ALIKES[json.dumps(value)])
    wanted = data.draw(st.one_of(st.just(value), look_alike, look_alike), label="wanted value")
    return {**filters, "metadata_filter": {key: wanted}}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=st.lists(SPECS, max_size=10),
    filters=FILTERS,
    limit=st.integers(min_value=1, max_value=4),
    data=st.data(),
)
def test_list_sessions_matches_a_reference_filter_and_pages_add_up(
    backend: str,
    postgres: PostgresServer | None,
    specs: list[Spec],
    filters: dict[str, Any],
    limit: int,
    data: st.DataObject,
) -> None:
    filters = aim_at_stored_metadata(data, specs, filters)
    asyncio.run(check_listing(specs, filters, limit, lambda: fresh_store(backend, postgres)))
