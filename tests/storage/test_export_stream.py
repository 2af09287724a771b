"""Exports rendered a batch at a time are byte for byte the whole-document exports."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

import pytest

from storage import Message, Role, Session, SessionNotFound, SessionStore, export_chunks
from storage.export import _front_matter, _message_block, estimate_export_bytes
from tests.storage.helpers import new_session, say


def whole_json(session: Session, messages: Sequence[Message]) -> str:
    document = {"session": session.to_julep(), "messages": [m.to_dict() for m in messages]}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def whole_markdown(session: Session, messages: Sequence[Message]) -> str:
    parts = [_front_matter(session), f"# {session.agent_id} · session {session.id}\n"]
    if session.summary:
        parts.append(f"> Summary: {session.summary}\n")
    parts.extend(_message_block(session, message) for message in messages)
    return "\n".join(parts)


async def streamed(store: SessionStore, session: Session, fmt: str, batch_size: int) -> str:
    batches = store.message_batches(session.id, batch_size=batch_size)
    return "".join([c async for c in export_chunks(session, batches, fmt)])  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [0, 1, 7])
@pytest.mark.parametrize("batch_size", [1, 3, 500])
async def test_streamed_exports_equal_the_whole_documents(
    store: SessionStore, count: int, batch_size: int
) -> None:
    session = await new_session(store, summary='So far: "quotes" and ünïcode', tags=["a b"])
    for index in range(count):
        await say(store, session, f'line {index}\n"quoted" *md* ✓', author_name=f"N_{index}")
    session = await store.get_session(session.id)
    messages = await store.recent_history(session.id, limit=100)
    assert await streamed(store, session, "json", batch_size) == whole_json(session, messages)
    assert await streamed(store, session, "md", batch_size) == whole_markdown(session, messages)
    assert await store.export_session(session.id, "json") == whole_json(session, messages)


async def test_message_batches_are_keyset_pages_oldest_first(store: SessionStore) -> None:
    session = await new_session(store)
    other = await new_session(store)
    ids = []
    for index in range(10):
        ids.append((await say(store, session, f"m{index}")).id)
        await say(store, other, "elsewhere")
    batches = [[m.id for m in b] async for b in store.message_batches(session.id, batch_size=4)]
    assert batches == [ids[:4], ids[4:8], ids[8:]]
    older = store.message_batches(session.id, before=ids[5], batch_size=100)
    assert [[m.id for m in b] async for b in older] == [ids[:5]]


async def test_message_batches_of_an_unknown_session(store: SessionStore) -> None:
    session = await new_session(store)
    await store.delete_session(session.id)
    batches: AsyncIterator[list[Message]] = store.message_batches(session.id)
    with pytest.raises(SessionNotFound):
        await anext(batches)


async def test_the_size_estimate_is_close_below_the_real_export(store: SessionStore) -> None:
    session = await new_session(store)
    for index in range(50):
        await say(store, session, "word " * 200 + str(index), author_name="Ana", role=Role.USER)
    size = await store.history_size(session.id)
    assert size.messages == 50
    for fmt in ("json", "md"):
        real = len((await store.export_session(session.id, fmt)).encode())  # type: ignore[arg-type]
        estimate = estimate_export_bytes(session, size, fmt)  # type: ignore[arg-type]
        assert 0.8 * real <= estimate <= real, (fmt, estimate, real)
