"""Several personas in one session, and the persona each place starts with (both backends)."""

from __future__ import annotations

from uuid import uuid4

import pytest

from storage import SessionNotFound, Store
from storage.errors import InvalidText
from tests.storage.helpers import new_session


async def test_a_new_session_has_no_other_personas(store: Store) -> None:
    session = await new_session(store)
    assert await store.session_agents(session.id) == []


async def test_personas_join_in_order_once_each_and_leave(store: Store) -> None:
    session = await new_session(store)
    assert await store.add_session_agent(session.id, "tutor") == ["tutor"]
    assert await store.add_session_agent(session.id, "bard") == ["tutor", "bard"]
    assert await store.add_session_agent(session.id, "tutor") == ["tutor", "bard"]
    assert await store.session_agents(session.id) == ["tutor", "bard"]
    assert await store.remove_session_agent(session.id, "tutor") == ["bard"]
    assert await store.remove_session_agent(session.id, "nobody") == ["bard"]
    assert await store.add_session_agent(session.id, "tutor") == ["bard", "tutor"]


async def test_the_personas_of_many_sessions_come_in_one_call(store: Store) -> None:
    first = await new_session(store)
    second = await new_session(store)
    await store.add_session_agent(first.id, "tutor")
    await store.add_session_agent(first.id, "bard")
    unknown = uuid4()
    found = await store.sessions_agents([first.id, second.id, unknown])
    assert found == {first.id: ["tutor", "bard"], second.id: [], unknown: []}


async def test_personas_of_a_missing_session_are_refused(store: Store) -> None:
    with pytest.raises(SessionNotFound):
        await store.add_session_agent(uuid4(), "tutor")
    with pytest.raises(SessionNotFound):
        await store.remove_session_agent(uuid4(), "tutor")


async def test_deleting_a_session_deletes_its_personas(store: Store) -> None:
    session = await new_session(store)
    await store.add_session_agent(session.id, "tutor")
    await store.delete_session(session.id)
    assert await store.sessions_agents([session.id]) == {session.id: []}


async def test_a_bad_persona_id_is_refused_with_a_clear_error(store: Store) -> None:
    session = await new_session(store)
    with pytest.raises(InvalidText, match="agent id"):
        await store.add_session_agent(session.id, "bad\ud800")
    assert await store.session_agents(session.id) == []


async def test_a_place_default_is_set_replaced_and_cleared(store: Store) -> None:
    assert await store.persona_default(["g:1"]) is None
    await store.set_persona_default("g:1", "sara", set_by="42")
    await store.set_persona_default("g:1", "tutor", set_by="43")
    found = await store.persona_default(["g:1"])
    assert found is not None
    assert (found.scope_key, found.persona_id, found.set_by) == ("g:1", "tutor", "43")
    assert found.set_at.tzinfo is not None
    await store.set_persona_default("g:1", None)
    assert await store.persona_default(["g:1"]) is None


async def test_the_first_scope_with_a_default_wins(store: Store) -> None:
    await store.set_persona_default("g:1", "sara")
    await store.set_persona_default("g:1/c:2", "tutor")
    channel = await store.persona_default(["g:1/c:2", "g:1"])
    other_channel = await store.persona_default(["g:1/c:3", "g:1"])
    assert channel is not None and channel.persona_id == "tutor"
    assert other_channel is not None and other_channel.persona_id == "sara"
    assert await store.persona_default(["g:9/c:2", "g:9"]) is None


async def test_a_scope_lists_its_own_default_and_those_nested_under_it(store: Store) -> None:
    await store.set_persona_default("g:1", "sara")
    await store.set_persona_default("g:1/c:2", "tutor")
    await store.set_persona_default("g:1/c:3", "bard")
    await store.set_persona_default("g:10", "other")  # shares the prefix, is not under g:1
    await store.set_persona_default("g:1.5", "other")
    listed = await store.persona_defaults("g:1")
    assert [(d.scope_key, d.persona_id) for d in listed] == [
        ("g:1", "sara"),
        ("g:1/c:2", "tutor"),
        ("g:1/c:3", "bard"),
    ]
    assert await store.persona_defaults("g:2") == []
