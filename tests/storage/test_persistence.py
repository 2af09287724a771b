"""Opening, closing and reopening the database file."""

from __future__ import annotations

from pathlib import Path

from storage import ListQuery, Role, SessionStatus, SessionStore
from tests.storage.helpers import new_session, raw_query, say


async def test_everything_survives_a_restart(db_path: Path) -> None:
    async with SessionStore.open(db_path) as store:
        live = await new_session(store, binding_key="cli:a", tags=["t"], metadata={"k": "v"})
        ended = await new_session(store, binding_key="cli:a-old")
        await store.end_session(ended.id)
        sent = [await say(store, live, f"m{i}", external_id=f"e{i}") for i in range(3)]
        live = await store.get_session(live.id)
        ended = await store.get_session(ended.id)
    async with SessionStore.open(db_path) as store:
        assert await store.get_session(live.id) == live
        assert await store.get_session(ended.id) == ended
        assert await store.active_session("cli:a") == live
        assert await store.recent_history(live.id, limit=10) == sent
        assert [s.id for s in (await store.list_sessions(ListQuery(tags_all=["t"]))).items] == [
            live.id
        ]
        assert await say(store, live, "again", external_id="e1") == sent[1]
        assert (await store.get_session(ended.id)).status is SessionStatus.ENDED


async def test_open_creates_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c.db"
    store = await SessionStore.open(path)
    try:
        assert path.exists()
    finally:
        await store.close()


async def test_awaited_open_also_works_as_a_context_manager(db_path: Path) -> None:
    async with await SessionStore.open(db_path) as store:
        session = await new_session(store)
    async with SessionStore.open(db_path) as store:
        assert await store.get_session(session.id) == session


async def test_close_is_idempotent(db_path: Path) -> None:
    store = await SessionStore.open(db_path)
    await store.close()
    await store.close()


async def test_connection_uses_wal_and_enforces_foreign_keys(
    store: SessionStore, db_path: Path
) -> None:
    assert raw_query(db_path, "PRAGMA journal_mode") == [("wal",)]
    session = await new_session(store)
    await store.append_message(session.id, role=Role.USER, content="x", tokens=1)
    await store.delete_session(session.id)
    assert raw_query(db_path, "SELECT count(*) FROM messages") == [(0,)]


async def test_two_stores_on_one_file_see_each_others_writes(db_path: Path) -> None:
    async with SessionStore.open(db_path) as first, SessionStore.open(db_path) as second:
        session = await new_session(first, binding_key="cli:shared")
        assert await second.active_session("cli:shared") == session
