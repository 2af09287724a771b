"""Messages: append (idempotent), history windows, counts, edits, deletes."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest

from storage import Role, SessionEnded, SessionNotFound, SessionStore
from storage.errors import AnsweredMessageGone
from storage.queries import RECENT_HISTORY
from tests.storage.helpers import new_session, raw_query, say


async def test_append_returns_the_stored_message(store: SessionStore) -> None:
    session = await new_session(store)
    message = await store.append_message(
        session.id,
        role=Role.USER,
        content="Hi there ✓",
        author_id="42",
        author_name="Alice",
        external_id="discord-1",
        tokens=3,
    )
    assert message.session_id == session.id
    assert message.role is Role.USER
    assert (message.author_id, message.author_name) == ("42", "Alice")
    assert message.tokens_source == "estimate"
    assert message.reply_to is None
    assert await store.recent_history(session.id, limit=5) == [message]


async def test_message_ids_increase_in_append_order(store: SessionStore) -> None:
    a, b = await new_session(store), await new_session(store)
    ids = [(await say(store, session, "x")).id for session in (a, b, a, b, a)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5


async def test_message_ids_are_never_reused_after_a_delete(store: SessionStore) -> None:
    session = await new_session(store)
    last = await say(store, session, "latest", external_id="e1")
    assert await store.delete_message(session.id, "e1")
    assert (await say(store, session, "next")).id > last.id


async def test_append_bumps_the_session_updated_at(store: SessionStore) -> None:
    session = await new_session(store)
    message = await say(store, session, "hello")
    refreshed = await store.get_session(session.id)
    assert refreshed.updated_at == message.created_at
    assert refreshed.updated_at > session.updated_at


async def test_same_external_id_twice_returns_the_first_message(store: SessionStore) -> None:
    session = await new_session(store)
    first = await say(store, session, "original", external_id="d-7")
    again = await say(store, session, "replayed", external_id="d-7")
    assert again == first
    assert await store.count_messages(session.id) == 1


async def test_external_ids_are_scoped_to_their_session(store: SessionStore) -> None:
    a, b = await new_session(store), await new_session(store)
    first = await say(store, a, "in a", external_id="same")
    second = await say(store, b, "in b", external_id="same")
    assert first.id != second.id
    assert second.content == "in b"


async def test_messages_without_external_id_are_never_deduplicated(store: SessionStore) -> None:
    session = await new_session(store)
    await say(store, session, "same")
    await say(store, session, "same")
    assert await store.count_messages(session.id) == 2


async def test_append_to_unknown_session_raises(store: SessionStore) -> None:
    with pytest.raises(SessionNotFound):
        await store.append_message(uuid4(), role=Role.USER, content="x", tokens=1)


async def test_append_to_ended_session_raises(store: SessionStore) -> None:
    session = await new_session(store)
    await store.end_session(session.id)
    with pytest.raises(SessionEnded) as raised:
        await say(store, session, "too late")
    assert raised.value.session_id == session.id
    assert await store.count_messages(session.id) == 0


async def test_append_rejects_negative_tokens_and_unknown_sources(store: SessionStore) -> None:
    session = await new_session(store)
    with pytest.raises(ValueError, match="negative"):
        await say(store, session, "x", tokens=-1)
    with pytest.raises(ValueError, match="tokens_source"):
        await say(store, session, "x", tokens_source="guess")
    with pytest.raises(ValueError, match="narrator"):
        await say(store, session, "x", role="narrator")


async def test_append_records_what_a_reply_answers(store: SessionStore) -> None:
    session = await new_session(store)
    question = await say(store, session, "why?")
    answer = await say(store, session, "because", role=Role.ASSISTANT, reply_to=question.id)
    assert answer.reply_to == question.id
    assert (await store.recent_history(session.id, limit=1))[0].reply_to == question.id


async def test_recent_history_returns_the_last_messages_oldest_first(store: SessionStore) -> None:
    session = await new_session(store)
    other = await new_session(store)
    for i in range(10):
        await say(store, session, f"m{i}")
        await say(store, other, f"other {i}")
    history = await store.recent_history(session.id, limit=3)
    assert [m.content for m in history] == ["m7", "m8", "m9"]
    everything = await store.recent_history(session.id, limit=100)
    assert [m.content for m in everything] == [f"m{i}" for i in range(10)]


async def test_recent_history_windows_with_before_and_after(store: SessionStore) -> None:
    session = await new_session(store)
    ids = [(await say(store, session, f"m{i}")).id for i in range(10)]
    before = await store.recent_history(session.id, limit=3, before=ids[5])
    assert [m.id for m in before] == ids[2:5]
    after = await store.recent_history(session.id, limit=3, after=ids[5])
    assert [m.id for m in after] == ids[7:10]
    between = await store.recent_history(session.id, limit=10, after=ids[1], before=ids[4])
    assert [m.id for m in between] == ids[2:4]
    assert await store.recent_history(session.id, limit=0) == []


async def test_recent_history_of_an_empty_or_unknown_session(store: SessionStore) -> None:
    session = await new_session(store)
    assert await store.recent_history(session.id, limit=10) == []
    with pytest.raises(SessionNotFound):
        await store.recent_history(uuid4(), limit=10)


async def test_recent_history_is_an_index_range_scan(store: SessionStore, db_path: Path) -> None:
    sessions = [await new_session(store) for _ in range(4)]
    for i in range(50):
        await say(store, sessions[i % 4], f"m{i}")
    raw_query(db_path, "ANALYZE")
    params = (str(sessions[0].id), 3, 40, 10)
    plan = [row[3] for row in raw_query(db_path, "EXPLAIN QUERY PLAN " + RECENT_HISTORY, params)]
    assert any("USING INDEX messages_by_session" in detail for detail in plan), plan
    assert not any("SCAN" in detail for detail in plan), plan
    assert not any("TEMP B-TREE" in detail for detail in plan), plan


async def test_count_messages_and_message_counts(store: SessionStore) -> None:
    a, b, empty = [await new_session(store) for _ in range(3)]
    for _ in range(3):
        await say(store, a, "x")
    await say(store, b, "y")
    assert await store.count_messages(a.id) == 3
    assert await store.count_messages(empty.id) == 0
    stranger = uuid4()
    counts = await store.message_counts([a.id, b.id, empty.id, stranger])
    assert counts == {a.id: 3, b.id: 1, empty.id: 0, stranger: 0}
    assert await store.message_counts([]) == {}
    with pytest.raises(SessionNotFound):
        await store.count_messages(stranger)


async def test_edit_message_replaces_content_and_tokens(store: SessionStore) -> None:
    session = await new_session(store)
    original = await say(store, session, "helo", external_id="d-1", tokens_source="usage")
    edited = await store.edit_message(session.id, "d-1", "hello, fixed", 5)
    assert edited is not None
    assert (edited.id, edited.content, edited.tokens) == (original.id, "hello, fixed", 5)
    assert edited.tokens_source == "estimate"
    assert await store.recent_history(session.id, limit=1) == [edited]
    assert await store.edit_message(session.id, "missing", "x", 1) is None
    assert await store.edit_message(uuid4(), "d-1", "x", 1) is None


async def test_delete_message_by_external_id(store: SessionStore) -> None:
    session = await new_session(store)
    await say(store, session, "keep")
    await say(store, session, "oops", external_id="d-2")
    assert await store.delete_message(session.id, "d-2") is True
    assert await store.delete_message(session.id, "d-2") is False
    assert [m.content for m in await store.recent_history(session.id, limit=5)] == ["keep"]


async def test_sessions_holding_finds_a_message_in_ended_sessions_at_that_key_only(
    store: SessionStore,
) -> None:
    old = await new_session(store, binding_key="discord:1:2")
    await say(store, old, "old", external_id="m-1")
    await store.end_session(old.id)
    current = await new_session(store, binding_key="discord:1:2")
    await say(store, current, "new", external_id="m-2")
    elsewhere = await new_session(store, binding_key="discord:1:3")
    await say(store, elsewhere, "same id, other channel", external_id="m-1")

    assert await store.sessions_holding("discord:1:2", "m-1") == [old.id]
    assert await store.sessions_holding("discord:1:2", "m-2") == [current.id]
    assert await store.sessions_holding("discord:1:3", "m-1") == [elsewhere.id]
    assert await store.sessions_holding("discord:1:2", "m-3") == []


async def test_clear_history_deletes_messages_and_forgets_the_summary(store: SessionStore) -> None:
    session = await new_session(store, summary="They talked.")
    other = await new_session(store)
    messages = [await say(store, session, f"m{i}") for i in range(4)]
    await say(store, other, "untouched")
    await store.fold_summary(session.id, summary="so far", through=messages[1].id)
    assert await store.clear_history(session.id) == 4
    cleared = await store.get_session(session.id)
    assert (cleared.summary, cleared.summarized_through) == (None, None)
    assert await store.recent_history(session.id, limit=10) == []
    assert await store.count_messages(other.id) == 1
    assert await store.clear_history(session.id) == 0
    with pytest.raises(SessionNotFound):
        await store.clear_history(uuid4())


async def test_update_message_tokens_records_usage(store: SessionStore) -> None:
    session = await new_session(store)
    message = await say(store, session, "a reply", role=Role.ASSISTANT)
    assert await store.update_message_tokens(message.id, 17) is True
    stored = (await store.recent_history(session.id, limit=1))[0]
    assert (stored.tokens, stored.tokens_source) == (17, "usage")
    assert await store.update_message_tokens(10_000, 1) is False


async def test_a_message_is_found_by_its_id_only_in_its_own_session(store: SessionStore) -> None:
    session = await new_session(store)
    other = await new_session(store)
    sent = await say(store, session, "hello")
    assert await store.get_message(session.id, sent.id) == sent
    assert await store.get_message(other.id, sent.id) is None
    assert await store.get_message(session.id, sent.id + 1) is None


async def test_a_reply_to_a_message_that_is_gone_is_not_stored(store: SessionStore) -> None:
    session = await new_session(store)
    asked = await say(store, session, "hello", external_id="d1")
    await store.clear_history(session.id)
    with pytest.raises(AnsweredMessageGone):
        await say(store, session, "hi there", role=Role.ASSISTANT, reply_to=asked.id)
    assert await store.count_messages(session.id) == 0
    other = await new_session(store)
    elsewhere = await say(store, other, "in another session")
    with pytest.raises(AnsweredMessageGone):
        await say(store, session, "crossed wires", role=Role.ASSISTANT, reply_to=elsewhere.id)
    kept = await say(store, session, "asked again")
    answer = await say(store, session, "answered", role=Role.ASSISTANT, reply_to=kept.id)
    assert answer.reply_to == kept.id
