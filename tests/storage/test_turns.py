"""The reads of a message's way through a front end, each in one round trip: `arrival` (the
place's active session, and whether the message is stored there already) and `turn_state`
(what answering a stored message starts from)."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest

from storage import NewMessage, Role, SessionNotFound, SessionStore, Store
from storage.errors import InvalidText
from tests.storage.helpers import new_session, raw_query, say


async def test_an_arrival_where_no_session_is_finds_none_and_nothing_stored(store: Store) -> None:
    arrival = await store.arrival("discord:1/2", "77")
    assert (arrival.session, arrival.seen, arrival.others) == (None, False, ())


async def test_an_arrival_finds_the_active_session_with_its_personas_in_joining_order(
    store: Store,
) -> None:
    session = await new_session(store, binding_key="discord:1/2")  # type: ignore[arg-type]
    await store.add_session_agent(session.id, "zed")
    await store.add_session_agent(session.id, "abe")
    arrival = await store.arrival("discord:1/2", "77")
    assert arrival.session == session
    assert (arrival.seen, arrival.others) == (False, ("zed", "abe"))


async def test_a_message_stored_by_a_session_at_the_key_is_seen_even_once_it_ended(
    store: Store,
) -> None:
    first = await new_session(store, binding_key="discord:1/2")  # type: ignore[arg-type]
    await say(store, first, "hi", external_id="77")  # type: ignore[arg-type]
    await store.end_session(first.id)
    second = await new_session(store, binding_key="discord:1/2")  # type: ignore[arg-type]

    arrival = await store.arrival("discord:1/2", "77")
    assert arrival.session == second
    assert arrival.seen
    assert not (await store.arrival("discord:1/2", "78")).seen
    assert not (await store.arrival("discord:1/3", "77")).seen  # another place's message


async def test_a_key_or_id_with_a_nul_character_arrives_nowhere(store: Store) -> None:
    await new_session(store, binding_key="discord:1/2")  # type: ignore[arg-type]
    arrival = await store.arrival("discord:1/2\x00", "77\x00")
    assert (arrival.session, arrival.seen) == (None, False)


async def test_a_turn_state_holds_the_session_its_personas_and_the_newest_history(
    store: Store,
) -> None:
    session = await new_session(store)  # type: ignore[arg-type]
    await store.add_session_agent(session.id, "zed")
    said = [await say(store, session, f"m{n}") for n in range(6)]  # type: ignore[arg-type]
    await store.fold_summary(session.id, summary="so far", through=said[1].id)

    state = await store.turn_state(session.id, said[5].id, limit=3)
    assert state.session == await store.get_session(session.id)
    assert state.others == ("zed",)
    assert [m.content for m in state.history] == ["m3", "m4", "m5"]
    assert state.history == tuple(await store.recent_history(session.id, limit=3))
    assert (state.settled, state.drafts, state.limit, state.before) == (False, (), 3, None)

    wide = await store.turn_state(session.id, said[5].id, limit=50, before=said[5].id)
    assert [m.content for m in wide.history] == ["m2", "m3", "m4"]  # after the summary
    assert (await store.turn_state(session.id, said[5].id, limit=0)).history == ()


async def test_a_turn_state_tells_a_settled_message_and_lists_the_drafts_left(
    store: Store,
) -> None:
    session = await new_session(store)  # type: ignore[arg-type]
    answered = await say(store, session, "one")  # type: ignore[arg-type]
    refused = await say(store, session, "two")  # type: ignore[arg-type]
    waiting = await say(store, session, "three")  # type: ignore[arg-type]
    await store.append_message(
        session.id, role=Role.ASSISTANT, content="yes", tokens=1, reply_to=answered.id
    )
    await store.refuse_message(refused.id)
    await store.save_draft(session.id, waiting.id, target="bot", posted=["11", "12"])

    assert (await store.turn_state(session.id, answered.id, limit=5)).settled
    assert (await store.turn_state(session.id, refused.id, limit=5)).settled
    state = await store.turn_state(session.id, waiting.id, limit=5)
    assert not state.settled
    assert [(d.message_id, d.target, d.posted) for d in state.drafts] == [
        (waiting.id, "bot", ("11", "12"))
    ]
    assert list(state.drafts) == await store.session_drafts(session.id)
    await store.clear_draft(session.id, waiting.id)
    assert (await store.turn_state(session.id, waiting.id, limit=5)).drafts == ()


async def test_a_turn_state_of_no_session_is_not_found(store: Store) -> None:
    with pytest.raises(SessionNotFound):
        await store.turn_state(uuid4(), 1, limit=5)
    with pytest.raises(ValueError, match="negative"):
        await store.turn_state(uuid4(), 1, limit=-1)


async def test_a_turn_state_over_text_an_older_version_stored_shows_it_not_fails(
    store: SessionStore, db_path: Path
) -> None:
    session = await new_session(store)
    asked = await say(store, session, "placeholder")
    raw_query(
        db_path,
        "UPDATE messages SET content = CAST(x'6f6bff' AS TEXT) WHERE id = ?",
        (asked.id,),
    )
    state = await store.turn_state(session.id, asked.id, limit=5)
    assert [m.content for m in state.history] == ["ok\ufffd"]
    assert store._db.text_factory is str  # back on the fast path


def _new(content: str = "hello") -> NewMessage:
    return NewMessage(content=content, author_id="42", author_name="Ana", tokens=3)


async def test_an_arrival_stores_a_new_message_in_the_active_session(store: Store) -> None:
    session = await new_session(store, binding_key="discord:1/2")  # type: ignore[arg-type]
    arrival = await store.arrival("discord:1/2", "77", store=_new())
    assert arrival.session is not None
    assert (arrival.session.id, arrival.seen) == (session.id, False)
    assert arrival.stored is not None
    assert arrival.stored == await store.get_message(session.id, arrival.stored.id)
    assert (arrival.stored.role, arrival.stored.external_id) == (Role.USER, "77")
    assert (arrival.stored.author_id, arrival.stored.author_name) == ("42", "Ana")
    assert (arrival.stored.tokens, arrival.stored.tokens_source) == (3, "estimate")
    assert (await store.get_session(session.id)).updated_at >= arrival.stored.created_at


async def test_a_replayed_arrival_is_seen_and_stores_nothing_twice(store: Store) -> None:
    first = await new_session(store, binding_key="discord:1/2")  # type: ignore[arg-type]
    assert (await store.arrival("discord:1/2", "77", store=_new())).stored is not None
    again = await store.arrival("discord:1/2", "77", store=_new("hello again"))
    assert (again.seen, again.stored) == (True, None)
    await store.end_session(first.id)
    await new_session(store, binding_key="discord:1/2")  # type: ignore[arg-type]
    after_restart = await store.arrival("discord:1/2", "77", store=_new())
    assert (after_restart.seen, after_restart.stored) == (True, None)  # an ended session's
    assert await store.count_messages(first.id) == 1


async def test_an_arrival_where_no_session_is_stores_nothing(store: Store) -> None:
    arrival = await store.arrival("discord:1/2", "77", store=_new())
    assert (arrival.session, arrival.seen, arrival.stored) == (None, False, None)
    assert not (await store.arrival("discord:1/2", "77")).seen


async def test_an_arrival_refuses_a_message_the_store_cannot_hold(store: Store) -> None:
    await new_session(store, binding_key="discord:1/2")  # type: ignore[arg-type]
    with pytest.raises(InvalidText):
        await store.arrival("discord:1/2", "77", store=_new("\ud800"))
    assert not (await store.arrival("discord:1/2", "77")).seen


async def test_an_arrival_at_a_session_an_older_version_stored_badly_still_stores(
    store: SessionStore, db_path: Path
) -> None:
    session = await new_session(store, binding_key="discord:1/2")
    raw_query(
        db_path,
        "UPDATE sessions SET tags = CAST(x'5b2261ff62225d' AS TEXT) WHERE id = ?",
        (str(session.id),),
    )
    arrival = await store.arrival("discord:1/2", "77", store=_new())
    assert arrival.session is not None
    assert arrival.session.tags == ["a\ufffdb"]
    assert arrival.stored is not None
    assert arrival.stored == await store.get_message(session.id, arrival.stored.id)
    assert store._db.text_factory is str
