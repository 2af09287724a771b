"""Sessions through the engine: pinned situations, chosen ids, and attaching to a place."""

from __future__ import annotations

from uuid import uuid4

import pytest

from bot.engine import Binding, Engine, Incoming, Pinned
from bot.engine.errors import (
    AlreadyAttachedHere,
    AttachedElsewhere,
    AttachEnded,
    NotYourSession,
    PersonaNotLoaded,
    PlaceTaken,
    UnknownSession,
)
from storage import Role

HERE = Binding(key="chat:room:1", family="chat:", place="chat room", noun="room")
DRAFT = Incoming(content="draft", author_name="Ana", external_id="m1")
DM = Binding(key="chat:dm:7", family="chat:", private=True, place="chat room", noun="room")


async def test_a_pinned_session_keeps_its_own_situation_and_the_chosen_id(engine: Engine) -> None:
    chosen = uuid4()
    started = await engine.start_session(
        pinned=Pinned(situation="You are a lighthouse keeper.", render_templates=False),
        session_id=chosen,
        metadata={"source": "api"},
    )
    session = started.session
    assert session.id == chosen
    assert not session.follows_persona
    assert session.situation == "You are a lighthouse keeper."
    assert session.metadata["source"] == "api"
    followed = await engine.start_session()
    assert followed.session.follows_persona


async def test_attach_binds_the_session_and_merges_the_place_metadata(engine: Engine) -> None:
    made = (await engine.start_session(binding_key="api:1", metadata={"keep": 1})).session
    attached = await engine.attach_session(
        made.id, HERE, user_id="ana", metadata={"room": "1", "keep": None}
    )
    assert attached.binding_key == HERE.key
    assert attached.metadata.get("room") == "1" and "keep" not in attached.metadata
    assert attached.user_id is None  # a shared place records no owner
    assert await engine.active_session(HERE.key) == attached


async def test_attach_refuses_with_the_sentence_that_fits(engine: Engine) -> None:
    with pytest.raises(UnknownSession):
        await engine.attach_session(uuid4(), HERE, user_id="ana", metadata={})
    ended = (await engine.start_session()).session
    await engine.end_session(ended.id)
    with pytest.raises(AttachEnded, match="start a new session here"):
        await engine.attach_session(ended.id, HERE, user_id="ana", metadata={})
    elsewhere = (await engine.start_session(binding_key="chat:room:2")).session
    with pytest.raises(AttachedElsewhere, match=r"another chat room.*for this room instead"):
        await engine.attach_session(elsewhere.id, HERE, user_id="ana", metadata={})
    theirs = (await engine.start_session(user_id="bob")).session
    with pytest.raises(NotYourSession):
        await engine.attach_session(theirs.id, DM, user_id="ana", metadata={})
    here = (await engine.start_session(binding_key=HERE.key)).session
    with pytest.raises(AlreadyAttachedHere):
        await engine.attach_session(here.id, HERE, user_id="ana", metadata={})
    free = (await engine.start_session()).session
    with pytest.raises(PlaceTaken, match="This room already has an active session with ada"):
        await engine.attach_session(free.id, HERE, user_id="ana", metadata={})
    assert (await engine.session(free.id)).binding_key is None


async def test_attach_in_a_private_place_records_its_person(engine: Engine) -> None:
    made = (await engine.start_session()).session
    attached = await engine.attach_session(made.id, DM, user_id="ana", metadata={})
    assert attached.user_id == "ana"


async def test_attach_refuses_a_session_whose_persona_is_not_loaded(engine: Engine) -> None:
    orphan = await engine.store.create_session(agent_id="gone", situation="x")
    with pytest.raises(PersonaNotLoaded, match="`gone`"):
        await engine.attach_session(orphan.id, HERE, user_id="ana", metadata={})


async def test_edits_and_deletions_reach_every_session_holding_the_message(
    engine: Engine,
) -> None:
    first = (await engine.start_session(binding_key=HERE.key)).session
    await engine.submit(first.id, DRAFT)
    await engine.end_session(first.id)
    second = (await engine.start_session(binding_key=HERE.key)).session
    await engine.submit(second.id, DRAFT)
    holders = await engine.message_holders(HERE.key, "m1")
    assert set(holders) == {first.id, second.id}
    await engine.edit_message(holders, "m1", "final text")
    for session_id in holders:
        [*_, stored] = await engine.history(session_id)
        assert (stored.content, stored.role) == ("final text", Role.USER)
    assert await engine.delete_message(HERE.key, "m1") == 2
    assert await engine.message_holders(HERE.key, "m1") == []
