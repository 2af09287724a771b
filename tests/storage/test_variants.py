"""Alternatives of a reply: the message row shows the chosen one, every one is kept."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid4

import pytest

from storage import ListQuery, Role, Session, SessionStore
from storage.errors import InvalidText
from tests.storage.helpers import new_session, raw_query, say
from tests.storage.test_migrations import copy_migrations, migrate_with


async def _reply(store: SessionStore, text: str = "First answer.") -> tuple[Session, int, int]:
    session = await new_session(store)
    asked = await say(store, session, "hello?")
    reply = await store.append_message(
        session.id, role=Role.ASSISTANT, content=text, tokens=3, reply_to=asked.id
    )
    return session, asked.id, reply.id


async def test_a_new_alternative_is_chosen_and_the_original_is_kept(store: SessionStore) -> None:
    session, _, reply_id = await _reply(store)
    added = await store.add_variant(
        session.id, reply_id, content="Second answer.", tokens=7, tokens_source="usage"
    )
    assert added is not None and (added.idx, added.chosen) == (1, True)
    variants = await store.variants(session.id, reply_id)
    assert [(v.idx, v.content, v.chosen) for v in variants] == [
        (0, "First answer.", False),
        (1, "Second answer.", True),
    ]
    shown = await store.get_message(session.id, reply_id)
    assert shown is not None
    assert (shown.content, shown.tokens, shown.tokens_source) == ("Second answer.", 7, "usage")


async def test_choosing_an_alternative_puts_its_text_in_the_history(store: SessionStore) -> None:
    session, _, reply_id = await _reply(store)
    await store.add_variant(session.id, reply_id, content="Second answer.", tokens=2)
    await store.add_variant(session.id, reply_id, content="Third answer.", tokens=2)
    chosen = await store.choose_variant(session.id, reply_id, 0)
    assert chosen is not None and chosen.content == "First answer." and chosen.tokens == 3
    history = await store.recent_history(session.id, limit=10)
    assert [m.content for m in history] == ["hello?", "First answer."]
    assert [v.chosen for v in await store.variants(session.id, reply_id)] == [True, False, False]


async def test_alternatives_added_unchosen_leave_the_text_alone(store: SessionStore) -> None:
    session, _, reply_id = await _reply(store, "Hi there!")
    for text in ("Hello!", "Good day!"):
        await store.add_variant(session.id, reply_id, content=text, tokens=1, choose=False)
    variants = await store.variants(session.id, reply_id)
    assert [(v.content, v.chosen) for v in variants] == [
        ("Hi there!", True), ("Hello!", False), ("Good day!", False),
    ]  # fmt: skip
    shown = await store.get_message(session.id, reply_id)
    assert shown is not None and shown.content == "Hi there!"


async def test_a_message_without_alternatives_has_none(store: SessionStore) -> None:
    session, _, reply_id = await _reply(store)
    assert await store.variants(session.id, reply_id) == []
    assert await store.choose_variant(session.id, reply_id, 0) is None


async def test_another_sessions_reply_or_a_missing_index_is_refused(store: SessionStore) -> None:
    session, _, reply_id = await _reply(store)
    other = await new_session(store)
    assert await store.add_variant(other.id, reply_id, content="x", tokens=1) is None
    assert await store.add_variant(uuid4(), reply_id, content="x", tokens=1) is None
    assert await store.variants(other.id, reply_id) == []
    await store.add_variant(session.id, reply_id, content="Second.", tokens=1)
    assert await store.choose_variant(session.id, reply_id, 5) is None
    assert await store.choose_variant(other.id, reply_id, 0) is None
    shown = await store.get_message(session.id, reply_id)
    assert shown is not None and shown.content == "Second."


async def test_alternatives_go_with_their_message(store: SessionStore) -> None:
    session, _, reply_id = await _reply(store)
    await store.add_variant(session.id, reply_id, content="Second.", tokens=1)
    await store.clear_history(session.id)
    assert await store.variants(session.id, reply_id) == []
    session2, _, reply2 = await _reply(store)
    await store.add_variant(session2.id, reply2, content="Second.", tokens=1)
    await store.delete_session(session2.id)
    assert await store.variants(session2.id, reply2) == []


async def test_bad_alternative_text_is_refused_and_nothing_changes(store: SessionStore) -> None:
    session, _, reply_id = await _reply(store)
    with pytest.raises(InvalidText):
        await store.add_variant(session.id, reply_id, content="bad \ud800", tokens=1)
    with pytest.raises(ValueError, match="negative"):
        await store.add_variant(session.id, reply_id, content="ok", tokens=-1)
    assert await store.variants(session.id, reply_id) == []


async def test_exports_show_the_chosen_text(store: SessionStore) -> None:
    session, _, reply_id = await _reply(store)
    await store.add_variant(session.id, reply_id, content="Second answer.", tokens=1)
    exported = json.loads(await store.export_session(session.id, "json"))
    assert [m["content"] for m in exported["messages"]] == ["hello?", "Second answer."]
    markdown = await store.export_session(session.id, "md")
    assert "Second answer." in markdown and "First answer." not in markdown


async def test_a_reply_stored_before_the_upgrade_gets_alternatives(
    tmp_path: Path, db_path: Path
) -> None:
    db_path.parent.mkdir()
    assert await migrate_with(db_path, copy_migrations(tmp_path / "v5", upto=5)) == 5
    raw_query(
        db_path,
        "INSERT INTO sessions (id, agent_id, situation, created_at, updated_at)"
        " VALUES ('8f9c2b8e-7c55-4d7c-9a43-2ad1c8f5b6a1', 'sara', 'Old.', 1, 2)",
    )
    raw_query(
        db_path,
        "INSERT INTO messages (session_id, role, content, created_at, tokens, tokens_source)"
        " VALUES ('8f9c2b8e-7c55-4d7c-9a43-2ad1c8f5b6a1', 'assistant', 'old reply', 3, 2,"
        " 'estimate')",
    )
    async with SessionStore.open(db_path) as store:
        [session] = (await store.list_sessions(ListQuery())).items
        [old] = await store.recent_history(session.id, limit=5)
        await store.add_variant(session.id, old.id, content="new reply", tokens=2)
        variants = await store.variants(session.id, old.id)
        assert [(v.content, v.created_at.year) for v in variants] == [
            ("old reply", 1970),
            ("new reply", variants[1].created_at.year),
        ]
