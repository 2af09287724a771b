"""What the store refuses before writing, and how it shows rows it could not have written."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from storage import ListQuery, SessionChanges, SessionStore
from storage.errors import InvalidMetadata, InvalidText, InvalidValue
from storage.limits import MAX_JSON_DEPTH, check_json, copy_json
from tests.storage.helpers import new_session, raw_query, say


def nested(depth: int) -> dict[str, Any]:
    """A metadata object `depth` levels deep (the object itself is level 1)."""
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


async def test_metadata_up_to_the_depth_limit_is_kept(store: SessionStore) -> None:
    session = await new_session(store, metadata=nested(MAX_JSON_DEPTH))
    assert (await store.get_session(session.id)).metadata == nested(MAX_JSON_DEPTH)


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        (nested(MAX_JSON_DEPTH + 1), "nested deeper than 32 levels"),
        ({"n": 10**29}, "signed 64-bit range"),
        ({"n": [-(2**63) - 1]}, "signed 64-bit range"),
        ({"\ud800key": "x"}, "unpaired surrogate"),
        ({"k": ["ok", "bad \udcff"]}, "unpaired surrogate"),
    ],
)
async def test_metadata_the_store_cannot_keep_is_refused_before_writing(
    store: SessionStore, db_path: Path, metadata: dict[str, Any], words: str
) -> None:
    with pytest.raises(InvalidMetadata, match=words):
        await new_session(store, metadata=metadata)
    session = await new_session(store, metadata={"ok": 2**63 - 1})
    with pytest.raises(InvalidMetadata, match=words):
        await store.update_session(session.id, SessionChanges(metadata=metadata))
    assert raw_query(db_path, "SELECT metadata FROM sessions") == [('{"ok":9223372036854775807}',)]


def test_the_json_check_walks_any_depth_without_recursion() -> None:
    value: Any = 1
    for _ in range(200_000):
        value = [value]
    with pytest.raises(InvalidMetadata, match="deeper"):
        check_json(value, field="metadata")
    copied = copy_json(value)  # copying is iterative too: no RecursionError
    assert copied is not value and isinstance(copied[0], list)


@pytest.mark.parametrize(
    "fields",
    [
        {"situation": "bad \ud800"},
        {"user_id": "\udcff"},
        {"agent_id": "sa\ud800ra"},
        {"tags": ["fine", "\udcffbad"]},
    ],
)
async def test_session_text_that_is_not_unicode_is_refused(
    store: SessionStore, db_path: Path, fields: dict[str, Any]
) -> None:
    with pytest.raises(InvalidText, match="unpaired surrogate"):
        await new_session(store, **fields)
    assert raw_query(db_path, "SELECT count(*) FROM sessions") == [(0,)]


async def test_tags_situation_and_messages_are_checked_on_every_write(
    store: SessionStore, db_path: Path
) -> None:
    session = await new_session(store)
    message = await say(store, session, "hello", external_id="m1")
    attempts = [
        store.retag(session.id, add=["\ud800"]),
        store.update_session(session.id, SessionChanges(tags=["\ud800"])),
        store.update_session(session.id, SessionChanges(situation="\ud800")),
        say(store, session, "content \ud800"),
        say(store, session, "fine", author_name="An\udcffa"),
        store.edit_message(session.id, "m1", "edited \ud800", tokens=1),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidValue) as caught:
            await attempt
        assert "unpaired surrogate" in str(caught.value)
    stored = await store.get_session(session.id)
    assert stored.tags == [] and stored.situation == session.situation
    assert [m.content for m in await store.recent_history(session.id, limit=5)] == ["hello"]
    assert message.content == "hello"


async def test_list_filters_that_no_row_could_match_are_refused(store: SessionStore) -> None:
    with pytest.raises(InvalidMetadata, match="64-bit"):
        await store.list_sessions(ListQuery(metadata_filter={"n": 10**29}))
    with pytest.raises(InvalidText):
        await store.list_sessions(ListQuery(tags_all=["\ud800"]))


async def test_rows_an_older_version_stored_are_shown_not_fatal(
    store: SessionStore, db_path: Path
) -> None:
    deep = await new_session(store)
    bad_json = await new_session(store)
    bad_utf8 = await new_session(store)
    deep_text = '{"a":' * 490 + "1" + "}" * 490
    raw_query(db_path, "UPDATE sessions SET metadata = ? WHERE id = ?", (deep_text, str(deep.id)))
    store_unparsable_json(db_path, str(bad_json.id))
    raw_query(
        db_path,
        "UPDATE sessions SET tags = CAST(x'5b2261ff62225d' AS TEXT) WHERE id = ?",
        (str(bad_utf8.id),),
    )
    await say(store, bad_utf8, "still readable")

    shown = {s.id: s for s in (await store.list_sessions(ListQuery())).items}
    assert "deeper than 32" in shown[deep.id].metadata["_unreadable"]
    assert "not JSON" in shown[bad_json.id].metadata["_unreadable"]
    assert shown[bad_json.id].tags == ["_unreadable"]
    assert shown[bad_utf8.id].tags == ["a\ufffdb"]
    for session in shown.values():
        json.dumps(session.to_julep())
        assert json.loads(await store.export_session(session.id, "json"))["session"]["id"]
    retagged = await store.retag(bad_utf8.id, add=["new"])
    assert retagged.tags == ["a\ufffdb", "new"]
    assert (await store.get_session(bad_utf8.id)).tags == ["a\ufffdb", "new"]


def store_unparsable_json(db_path: Path, session_id: str) -> None:
    """What a damaged file or an old tool could leave: text that is not JSON at all."""
    connection = sqlite3.connect(db_path)
    try:
        trigger = "sessions_metadata_updated"
        [(sql,)] = connection.execute("SELECT sql FROM sqlite_master WHERE name = ?", (trigger,))
        connection.execute("PRAGMA ignore_check_constraints = ON")
        with connection:
            connection.execute(f"DROP TRIGGER {trigger}")
            sql_update = "UPDATE sessions SET metadata = '{oops', tags = '\"nope\"' WHERE id = ?"
            connection.execute(sql_update, (session_id,))
            connection.execute(sql)
    finally:
        connection.close()


@pytest.mark.sqlite_only  # the U+FFFD fallback of undecodable SQLite text
async def test_reading_stays_fast_path_after_a_bad_row(store: SessionStore) -> None:
    session = await new_session(store, tags=["x"])
    await store.get_session(session.id)
    assert store._db.text_factory is str
