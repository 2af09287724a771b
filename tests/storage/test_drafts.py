"""Replies in flight: a session held by one answerer at a time, and the draft of a reply."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import pytest

from storage import Store, open_store
from tests.postgres_server import NO_POSTGRES, PostgresServer
from tests.storage.helpers import new_session, say


async def test_a_draft_is_recorded_updated_and_cleared(store: Store) -> None:
    session = await new_session(store)  # type: ignore[arg-type]
    asked = await say(store, session, "hello?")  # type: ignore[arg-type]
    assert await store.draft(session.id, asked.id) is None
    await store.save_draft(session.id, asked.id, target="channel:5", posted=["11"])
    await store.save_draft(session.id, asked.id, target="webhook:7", posted=["11", "12"])
    draft = await store.draft(session.id, asked.id)
    assert draft is not None
    assert (draft.target, draft.posted) == ("webhook:7", ("11", "12"))
    await store.clear_draft(session.id, asked.id)
    assert await store.draft(session.id, asked.id) is None


async def test_the_drafts_of_a_session_are_listed_oldest_message_first(store: Store) -> None:
    session, other = await new_session(store), await new_session(store)  # type: ignore[arg-type]
    first = await say(store, session, "one")  # type: ignore[arg-type]
    second = await say(store, session, "two")  # type: ignore[arg-type]
    elsewhere = await say(store, other, "three")  # type: ignore[arg-type]
    await store.save_draft(session.id, second.id, target="bot", posted=["22"])
    await store.save_draft(session.id, first.id, target="bot", posted=["11"])
    await store.save_draft(other.id, elsewhere.id, target="bot", posted=["33"])
    drafts = await store.session_drafts(session.id)
    assert [(d.message_id, d.posted) for d in drafts] == [(first.id, ("11",)), (second.id, ("22",))]
    assert await store.session_drafts(uuid4()) == []


async def test_a_draft_goes_with_its_session(store: Store) -> None:
    session = await new_session(store)  # type: ignore[arg-type]
    asked = await say(store, session, "hello?")  # type: ignore[arg-type]
    await store.save_draft(session.id, asked.id, target="channel:5", posted=["11"])
    await store.delete_session(session.id)
    assert await store.draft(session.id, asked.id) is None


async def test_a_held_session_waits_for_its_holder_and_others_do_not(store: Store) -> None:
    first, second = await new_session(store), await new_session(store)  # type: ignore[arg-type]
    order: list[str] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with store.hold_session(first.id):
            order.append("held")
            await release.wait()
            order.append("released")

    async def waiter() -> None:
        async with store.hold_session(first.id):
            order.append("second holder")

    task = asyncio.create_task(holder())
    await asyncio.sleep(0.05)
    waiting = asyncio.create_task(waiter())
    async with asyncio.timeout(2):
        async with store.hold_session(second.id):  # another session is not held up
            order.append("other session")
    await asyncio.sleep(0.1)
    release.set()
    await asyncio.gather(task, waiting)
    assert order == ["held", "other session", "released", "second holder"]


async def test_a_session_held_by_one_process_waits_in_another(
    postgres: PostgresServer | None,
) -> None:
    """PostgreSQL only: two processes on one SQLite file are not a supported set-up."""
    if postgres is None:
        pytest.skip(NO_POSTGRES)
    async with postgres.fresh_database() as url:
        one, other = await open_store(url), await open_store(url)  # two processes' pools
        try:
            session = await new_session(one)  # type: ignore[arg-type]
            order: list[str] = []
            async with one.hold_session(session.id):
                waiting = asyncio.create_task(_hold(other, session.id, order))
                await asyncio.sleep(0.3)
                order.append("first done")
            await asyncio.wait_for(waiting, 5)
            assert order == ["first done", "second held"]
        finally:
            await one.close()
            await other.close()


async def _hold(store: Store, session_id: UUID, order: list[str]) -> None:
    async with store.hold_session(session_id):
        order.append("second held")
