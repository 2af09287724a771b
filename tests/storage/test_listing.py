"""list_sessions: exact metadata filters, tags, scoping by key prefix, ordering and paging."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from storage import ListQuery, Session, SessionStatus, SessionStore
from storage.errors import InvalidCursor, InvalidMetadata
from storage.listing import Direction, OrderBy, select_sessions
from tests.storage.helpers import new_session, raw_query, say


async def ids_matching(store: SessionStore, **filters: Any) -> set[UUID]:
    return {
        session.id
        for session in (await store.list_sessions(ListQuery(limit=1000, **filters))).items
    }


async def test_metadata_filter_tells_strings_from_numbers(store: SessionStore) -> None:
    number = await new_session(store, metadata={"order": 1234})
    text = await new_session(store, metadata={"order": "1234"})
    real = await new_session(store, metadata={"order": 1234.0})
    assert await ids_matching(store, metadata_filter={"order": 1234}) == {number.id, real.id}
    assert await ids_matching(store, metadata_filter={"order": "1234"}) == {text.id}
    assert await ids_matching(store, metadata_filter={"order": 1234.5}) == set()


async def test_metadata_filter_tells_booleans_and_null_from_numbers(store: SessionStore) -> None:
    true = await new_session(store, metadata={"flag": True})
    one = await new_session(store, metadata={"flag": 1})
    null = await new_session(store, metadata={"flag": None})
    zero = await new_session(store, metadata={"flag": 0})
    await new_session(store, metadata={})
    assert await ids_matching(store, metadata_filter={"flag": True}) == {true.id}
    assert await ids_matching(store, metadata_filter={"flag": 1}) == {one.id}
    assert await ids_matching(store, metadata_filter={"flag": None}) == {null.id}
    assert await ids_matching(store, metadata_filter={"flag": False}) == set()
    assert await ids_matching(store, metadata_filter={"flag": 0}) == {zero.id}


async def test_metadata_filter_matches_nested_values_exactly(store: SessionStore) -> None:
    nested = await new_session(store, metadata={"cfg": {"b": "x", "a": [1, 2]}})
    await new_session(store, metadata={"cfg": {"a": [2, 1], "b": "x"}})
    await new_session(store, metadata={"cfg": {"a": [1, 2]}})
    await new_session(store, metadata={"cfg": [{"a": [1, 2], "b": "x"}]})
    wanted = {"cfg": {"a": [1, 2], "b": "x"}}
    assert await ids_matching(store, metadata_filter=wanted) == {nested.id}
    assert await ids_matching(store, metadata_filter={"cfg": [1, 2]}) == set()


@pytest.mark.parametrize(
    "key",
    ["a.b", 'a"b', "a'b", "$.a", "a[0]", "ключ ✓", "", " ", "a\\b", "*", "%", "_"],
)
async def test_metadata_filter_keys_are_taken_literally(store: SessionStore, key: str) -> None:
    literal = await new_session(store, metadata={key: "v"})
    await new_session(store, metadata={"a": {"b": "v"}, "a.b.c": "v", "other": "v"})
    assert await ids_matching(store, metadata_filter={key: "v"}) == {literal.id}


@pytest.mark.parametrize(
    "value",
    ["'; DROP TABLE sessions; --", '" OR 1=1 --', "ünïcödé ✓ 中文", "line\nbreak", "%", "_", ""],
)
async def test_metadata_filter_values_are_taken_literally(
    store: SessionStore, db_path: Path, value: str
) -> None:
    literal = await new_session(store, metadata={"note": value})
    await new_session(store, metadata={"note": "something else"})
    assert await ids_matching(store, metadata_filter={"note": value}) == {literal.id}
    assert raw_query(db_path, "SELECT count(*) FROM sessions") == [(2,)]


async def test_metadata_filter_ands_every_key(store: SessionStore) -> None:
    both = await new_session(store, metadata={"a": 1, "b": "x"})
    await new_session(store, metadata={"a": 1, "b": "y"})
    await new_session(store, metadata={"a": 2, "b": "x"})
    assert await ids_matching(store, metadata_filter={"a": 1, "b": "x"}) == {both.id}


async def test_metadata_filter_rejects_values_that_are_not_json(store: SessionStore) -> None:
    with pytest.raises(InvalidMetadata, match="metadata filter"):
        await store.list_sessions(ListQuery(metadata_filter={"a": object()}))


async def test_tags_any_and_all_with_normalised_filters(store: SessionStore) -> None:
    ab = await new_session(store, tags=["alpha", "beta"])
    a = await new_session(store, tags=["alpha"])
    c = await new_session(store, tags=["Gamma Ray"])
    await new_session(store)
    assert await ids_matching(store, tags_any=["ALPHA", "gamma  ray"]) == {ab.id, a.id, c.id}
    assert await ids_matching(store, tags_all=["alpha", " Beta"]) == {ab.id}
    assert await ids_matching(store, tags_all=["alpha", "alpha"]) == {ab.id, a.id}
    assert await ids_matching(store, tags_any=["beta"], tags_all=["alpha"]) == {ab.id}
    assert await ids_matching(store, tags_any=["nope"]) == set()
    assert len(await ids_matching(store, tags_any=[], tags_all=["  "])) == 4


async def test_agent_user_and_status_filters(store: SessionStore) -> None:
    sara = await new_session(store, agent_id="sara", user_id="u1")
    tutor = await new_session(store, agent_id="tutor", user_id="u1")
    ended = await new_session(store, agent_id="sara", user_id="u2")
    await store.end_session(ended.id)
    assert await ids_matching(store, agent_id="sara") == {sara.id, ended.id}
    assert await ids_matching(store, user_id="u1") == {sara.id, tutor.id}
    assert await ids_matching(store, status=SessionStatus.ENDED) == {ended.id}
    assert await ids_matching(store, status=SessionStatus.ACTIVE, agent_id="sara") == {sara.id}


async def test_key_prefix_scopes_by_binding_key(store: SessionStore) -> None:
    one = await new_session(store, binding_key="discord:1:100")
    ten = await new_session(store, binding_key="discord:10:100")
    old = await new_session(store, binding_key="discord:1:200")
    await store.end_session(old.id)
    await new_session(store, binding_key="cli:me")
    await new_session(store)
    assert await ids_matching(store, key_prefix="discord:1:") == {one.id, old.id}
    assert await ids_matching(store, key_prefix="discord:1") == {one.id, ten.id, old.id}
    assert await ids_matching(store, key_prefix="Discord:") == set()
    assert len(await ids_matching(store, key_prefix="")) == 4


@pytest.mark.parametrize("wild", ["%", "_", "*", "?", "[", "]", "[a]", "\\"])
async def test_key_prefix_wildcards_are_literal(store: SessionStore, wild: str) -> None:
    literal = await new_session(store, binding_key=f"cli:{wild}x")
    await new_session(store, binding_key="cli:ax")
    await new_session(store, binding_key="cli:zzx")
    await new_session(store, binding_key="cli:")
    assert await ids_matching(store, key_prefix=f"cli:{wild}") == {literal.id}


async def make_sessions(store: SessionStore, count: int) -> list[Session]:
    return [await new_session(store, metadata={"n": i}) for i in range(count)]


def sort_key(session: Session, order_by: OrderBy) -> tuple[Any, str]:
    return getattr(session, order_by), str(session.id)


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("order_by", ["created_at", "updated_at"])
async def test_cursor_paging_visits_every_session_once(
    store: SessionStore, order_by: OrderBy, direction: Direction
) -> None:
    sessions = await make_sessions(store, 11)
    await say(store, sessions[0], "moves session 0 to the newest updated_at")
    sessions[0] = await store.get_session(sessions[0].id)
    expected = sorted(sessions, key=lambda s: sort_key(s, order_by), reverse=direction == "desc")
    seen: list[Session] = []
    cursor: str | None = None
    while True:
        page = await store.list_sessions(
            ListQuery(
                order_by=order_by,
                direction=direction,
                limit=3,
                cursor=cursor,
            )
        )
        seen.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected


@pytest.mark.parametrize("direction", ["asc", "desc"])
async def test_offset_paging_visits_every_session_once(
    store: SessionStore, direction: Direction
) -> None:
    sessions = await make_sessions(store, 7)
    expected = sorted(sessions, key=lambda s: sort_key(s, "created_at"))
    if direction == "desc":
        expected.reverse()
    pages = [
        (await store.list_sessions(ListQuery(direction=direction, limit=2, offset=offset))).items
        for offset in range(0, 8, 2)
    ]
    assert [s for page in pages for s in page] == expected
    assert pages[-1] == expected[6:]


async def test_equal_timestamps_are_ordered_by_id(store: SessionStore, db_path: Path) -> None:
    sessions = await make_sessions(store, 6)
    raw_query(db_path, "UPDATE sessions SET created_at = 1000")
    by_id = sorted(sessions, key=lambda s: str(s.id))
    first = await store.list_sessions(ListQuery(direction="asc", limit=4))
    rest = await store.list_sessions(ListQuery(direction="asc", limit=4, cursor=first.next_cursor))
    assert [s.id for s in first.items + rest.items] == [s.id for s in by_id]
    assert rest.next_cursor is None


async def test_last_page_has_no_cursor(store: SessionStore) -> None:
    await make_sessions(store, 3)
    assert (await store.list_sessions(ListQuery(limit=3))).next_cursor is None
    assert (await store.list_sessions(ListQuery(limit=2))).next_cursor is not None


@pytest.mark.parametrize("cursor", ["not base64!", "e30", "WyJ4IiwxLCJ5Il0"])
async def test_bad_cursors_are_refused(store: SessionStore, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        await store.list_sessions(ListQuery(cursor=cursor))


async def test_a_cursor_only_fits_its_own_ordering(store: SessionStore) -> None:
    await make_sessions(store, 3)
    page = await store.list_sessions(ListQuery(order_by="created_at", limit=1))
    assert page.next_cursor is not None
    with pytest.raises(InvalidCursor):
        await store.list_sessions(ListQuery(order_by="updated_at", cursor=page.next_cursor))


@pytest.mark.parametrize("limit,offset", [(0, 0), (1001, 0), (10, -1)])
async def test_limit_and_offset_are_checked(store: SessionStore, limit: int, offset: int) -> None:
    with pytest.raises(ValueError):
        await store.list_sessions(ListQuery(limit=limit, offset=offset))


async def test_metadata_filter_is_an_index_lookup(store: SessionStore, db_path: Path) -> None:
    for i in range(60):
        await new_session(store, metadata={"db_uuid": str(i % 20), "n": i})
    raw_query(db_path, "ANALYZE")
    sql, params = select_sessions(ListQuery(metadata_filter={"db_uuid": "7"}))
    plan = [row[3] for row in raw_query(db_path, "EXPLAIN QUERY PLAN " + sql, tuple(params))]
    assert any("USING COVERING INDEX session_metadata_by_value" in d for d in plan), plan
    assert not any("json_each" in d.lower() for d in plan), plan
