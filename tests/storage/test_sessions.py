"""Session lifecycle: create, get, bind, update, end, delete."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest

from storage import (
    UNSET,
    BindingConflict,
    ListQuery,
    Role,
    SessionChanges,
    SessionEnded,
    SessionNotFound,
    SessionStatus,
    SessionStore,
)
from storage.errors import BindingMoved, DuplicateSession, InvalidMetadata
from tests.storage.helpers import new_session, raw_query, say


async def test_create_session_stores_every_field(store: SessionStore) -> None:
    session = await store.create_session(
        agent_id="tutor",
        situation="Teach {{ user }}.",
        user_id="u-1",
        metadata={"lang": "fr", "level": 2},
        tags=["Homework", " maths "],
        render_templates=True,
        binding_key="cli:alice",
        persona_version="0123456789ab",
        summary="Earlier: fractions.",
    )
    assert session.id.version == 4
    assert session.status is SessionStatus.ACTIVE
    assert session.tags == ["homework", "maths"]
    assert session.metadata == {"lang": "fr", "level": 2}
    assert session.created_at == session.updated_at
    assert session.created_at.tzinfo is not None
    assert session.summarized_through is None
    assert await store.get_session(session.id) == session


async def test_create_session_defaults(store: SessionStore) -> None:
    session = await new_session(store)
    assert session.user_id is None
    assert session.summary is None
    assert session.metadata == {}
    assert session.tags == []
    assert session.render_templates is False
    assert session.binding_key is None
    assert session.persona_version is None


async def test_create_session_with_a_chosen_id(store: SessionStore) -> None:
    chosen = uuid4()
    session = await new_session(store, session_id=chosen)
    assert session.id == chosen
    with pytest.raises(DuplicateSession) as raised:
        await new_session(store, session_id=chosen)
    assert raised.value.session_id == chosen


async def test_get_unknown_session_raises_with_the_id(store: SessionStore) -> None:
    missing = uuid4()
    with pytest.raises(SessionNotFound) as raised:
        await store.get_session(missing)
    assert raised.value.session_id == missing
    assert str(missing) in str(raised.value)


async def test_second_active_session_on_a_key_is_a_binding_conflict(store: SessionStore) -> None:
    first = await new_session(store, binding_key="discord:1:2")
    with pytest.raises(BindingConflict) as raised:
        await new_session(store, binding_key="discord:1:2")
    assert raised.value.binding_key == "discord:1:2"
    assert raised.value.existing_id == first.id
    assert "discord:1:2" in str(raised.value)
    assert (await store.list_sessions(ListQuery())).items == [first]


async def test_active_session_finds_the_session_bound_to_a_key(store: SessionStore) -> None:
    bound = await new_session(store, binding_key="discord:dm:9")
    await new_session(store, binding_key="discord:dm:10")
    assert await store.active_session("discord:dm:9") == bound
    assert await store.active_session("discord:dm:1") is None


async def test_end_keeps_history_and_binding_and_frees_the_key(store: SessionStore) -> None:
    old = await new_session(store, binding_key="cli:bob")
    await say(store, old, "hello")
    ended = await store.end_session(old.id)
    assert ended.status is SessionStatus.ENDED
    assert ended.binding_key == "cli:bob"
    assert ended.updated_at >= old.updated_at
    assert await store.active_session("cli:bob") is None
    assert [m.content for m in await store.recent_history(old.id, limit=10)] == ["hello"]
    new = await new_session(store, binding_key="cli:bob")
    assert await store.active_session("cli:bob") == new


async def test_end_session_is_idempotent(store: SessionStore) -> None:
    session = await new_session(store)
    first = await store.end_session(session.id)
    assert await store.end_session(session.id) == first


async def test_end_unknown_session_raises(store: SessionStore) -> None:
    with pytest.raises(SessionNotFound):
        await store.end_session(uuid4())


async def test_ended_session_cannot_be_bound(store: SessionStore) -> None:
    session = await new_session(store)
    await store.end_session(session.id)
    with pytest.raises(SessionEnded):
        await store.bind_session(session.id, "cli:x")


async def test_bind_session_attaches_and_moves_a_session(store: SessionStore) -> None:
    session = await new_session(store)
    bound = await store.bind_session(session.id, "discord:1:2")
    assert bound.binding_key == "discord:1:2"
    assert await store.active_session("discord:1:2") == bound
    moved = await store.bind_session(session.id, "discord:1:3")
    assert await store.active_session("discord:1:2") is None
    assert await store.active_session("discord:1:3") == moved
    assert await store.bind_session(session.id, "discord:1:3") == moved


async def test_bind_session_to_a_taken_key_is_a_conflict(store: SessionStore) -> None:
    holder = await new_session(store, binding_key="discord:1:2")
    other = await new_session(store)
    with pytest.raises(BindingConflict) as raised:
        await store.bind_session(other.id, "discord:1:2")
    assert raised.value.existing_id == holder.id
    assert (await store.get_session(other.id)).binding_key is None


async def test_bind_with_an_expected_key_refuses_a_session_moved_meanwhile(
    store: SessionStore, db_path: Path
) -> None:
    session = await new_session(store, binding_key="api:x")
    async with SessionStore.open(db_path) as other_process:
        await other_process.bind_session(session.id, "discord:9:9", expected_key="api:x")
    with pytest.raises(BindingMoved):
        await store.bind_session(session.id, "discord:1:2", expected_key="api:x")
    assert (await store.get_session(session.id)).binding_key == "discord:9:9"
    unbound = await new_session(store)
    bound = await store.bind_session(unbound.id, "discord:1:2", expected_key=None)
    assert bound.binding_key == "discord:1:2"


async def test_bind_unknown_session_raises(store: SessionStore) -> None:
    with pytest.raises(SessionNotFound):
        await store.bind_session(uuid4(), "cli:x")


async def test_update_merges_metadata_and_none_removes_a_key(store: SessionStore) -> None:
    session = await new_session(store, metadata={"keep": 1, "drop": 2, "change": "a"})
    updated = await store.update_session(
        session.id, SessionChanges(metadata={"drop": None, "change": "b", "new": [1]})
    )
    assert updated.metadata == {"keep": 1, "change": "b", "new": [1]}
    assert updated.updated_at > session.updated_at


async def test_update_can_replace_metadata(store: SessionStore) -> None:
    session = await new_session(store, metadata={"old": 1})
    updated = await store.update_session(
        session.id, SessionChanges(metadata={"new": 2, "gone": None}, replace_metadata=True)
    )
    assert updated.metadata == {"new": 2}


async def test_update_adds_and_removes_normalised_tags(store: SessionStore) -> None:
    session = await new_session(store, tags=["keep", "drop-me"])
    updated = await store.retag(session.id, add=["New Tag", "keep"], remove=["Drop Me"])
    assert updated.tags == ["keep", "new-tag"]
    filtered = await store.list_sessions(ListQuery(tags_all=["new-tag", "keep"]))
    assert [s.id for s in filtered.items] == [session.id]
    assert (await store.list_sessions(ListQuery(tags_any=["drop-me"]))).items == []


async def test_update_sets_scalar_fields_and_leaves_unset_ones(store: SessionStore) -> None:
    session = await new_session(store, user_id="u1", summary="old", persona_version="v1")
    updated = await store.update_session(
        session.id,
        SessionChanges(
            summary=None,
            situation="New situation.",
            summarized_through=12,
            agent_id="tutor",
            render_templates=True,
            persona_version=UNSET,
        ),
    )
    assert updated.summary is None
    assert updated.situation == "New situation."
    assert updated.summarized_through == 12
    assert updated.agent_id == "tutor"
    assert updated.render_templates is True
    assert updated.persona_version == "v1"
    assert updated.user_id == "u1"
    assert await store.get_session(session.id) == updated


async def test_failed_update_changes_nothing(store: SessionStore) -> None:
    session = await new_session(store, tags=["a"], metadata={"k": 1})
    with pytest.raises(
        (sqlite3.IntegrityError, asyncpg.NotNullViolationError), match=r"(?i)not.null"
    ):
        await store.update_session(
            session.id,
            SessionChanges(
                situation=None,  # type: ignore[arg-type]
                tags=["b"],
                metadata={"k": 2},
            ),
        )
    assert await store.get_session(session.id) == session
    assert (await store.list_sessions(ListQuery(tags_any=["b"]))).items == []


async def test_update_unknown_session_raises(store: SessionStore) -> None:
    with pytest.raises(SessionNotFound):
        await store.update_session(uuid4(), SessionChanges(summary="x"))


async def test_concurrent_updates_lose_nothing(store: SessionStore) -> None:
    session = await new_session(store)
    await asyncio.gather(
        *(store.retag(session.id, add=[f"t{i}"]) for i in range(30)),
        *(say(store, session, f"message {i}") for i in range(30)),
    )
    final = await store.get_session(session.id)
    assert final.tags == sorted(f"t{i}" for i in range(30))
    assert await store.count_messages(session.id) == 30


@pytest.mark.parametrize(
    "metadata",
    [
        {"nul": "a\x00b"},
        {"a\x00": 1},
        {"nan": float("nan")},
        {"inf": float("inf")},
        {1: "int key"},
        {"set": {1, 2}},
        {"nested": {"deep": [b"bytes"]}},
    ],
)
async def test_metadata_that_is_not_plain_json_is_refused(
    store: SessionStore, metadata: dict[object, object]
) -> None:
    with pytest.raises(InvalidMetadata):
        await new_session(store, metadata=metadata)
    assert (await store.list_sessions(ListQuery())).items == []


async def test_delete_session_cascades_to_messages_and_tags(
    store: SessionStore, db_path: Path
) -> None:
    doomed = await new_session(store, tags=["a", "b"])
    kept = await new_session(store, tags=["a"])
    for i in range(5):
        await say(store, doomed, f"m{i}")
    await say(store, kept, "stay")
    await store.delete_session(doomed.id)
    with pytest.raises(SessionNotFound):
        await store.get_session(doomed.id)
    remaining = "SELECT count(*) FROM messages WHERE session_id = ?"
    assert raw_query(db_path, remaining, (str(doomed.id),)) == [(0,)]
    assert raw_query(db_path, "SELECT session_id FROM session_tags") == [(str(kept.id),)]
    assert await store.count_messages(kept.id) == 1


async def test_delete_unknown_session_raises(store: SessionStore) -> None:
    with pytest.raises(SessionNotFound):
        await store.delete_session(uuid4())


async def test_errors_read_as_sentences_with_a_next_step(store: SessionStore) -> None:
    session = await new_session(store, binding_key="cli:z")
    await store.end_session(session.id)
    with pytest.raises(SessionEnded) as raised:
        await store.append_message(session.id, role=Role.USER, content="hi", tokens=1)
    message = str(raised.value)
    assert message.endswith(".")
    assert "Start a new session" in message


async def test_latest_session_is_the_newest_at_a_place_ended_or_not(store: SessionStore) -> None:
    assert await store.latest_session("cli:here") is None
    first = await new_session(store, binding_key="cli:here")
    await store.end_session(first.id)
    second = await new_session(store, binding_key="cli:here")
    await new_session(store, binding_key="cli:elsewhere")
    assert (await store.latest_session("cli:here")) == second
    ended = await store.end_session(second.id)
    assert await store.latest_session("cli:here") == ended


async def test_following_the_persona_moves_situation_version_and_template_flag(
    store: SessionStore,
) -> None:
    session = await new_session(store, persona_version="v1", summary="kept")
    assert session.follows_persona
    moved = await store.follow_persona(
        session.id, situation="Sara, version two.", persona_version="v2", render_templates=True
    )
    assert (moved.situation, moved.persona_version, moved.render_templates) == (
        "Sara, version two.",
        "v2",
        True,
    )
    assert moved.summary == "kept"
    assert moved.updated_at > session.updated_at
    pinned = await new_session(store, persona_version=None)
    assert not pinned.follows_persona


async def test_folding_a_summary_records_how_far_it_reaches(store: SessionStore) -> None:
    session = await new_session(store)
    folded = await store.fold_summary(session.id, summary="They met.", through=41)
    assert (folded.summary, folded.summarized_through) == ("They met.", 41)
    with pytest.raises(SessionNotFound):
        await store.fold_summary(uuid4(), summary="x", through=1)


async def test_changing_tags_in_one_update_replaces_the_whole_list(store: SessionStore) -> None:
    session = await new_session(store, tags=["old", "keep"])
    updated = await store.update_session(session.id, SessionChanges(tags=["Keep", "New One"]))
    assert updated.tags == ["keep", "new-one"]
