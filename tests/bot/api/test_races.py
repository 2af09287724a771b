"""Concurrent requests through the real server: create-or-update is a true upsert, a tag list is
replaced whole, and clearing history while a reply streams leaves the history empty."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID, uuid4

from tests.bot.api.conftest import Api


async def test_concurrent_create_or_update_of_a_new_id_gives_201_and_200(api: Api) -> None:
    for trial in range(20):
        session_id = uuid4()
        bodies = [
            {"agent": "ada", "metadata": {"by": "first", "trial": trial}, "tags": ["first"]},
            {"agent": "ada", "metadata": {"by": "second", "trial": trial}, "tags": ["second"]},
        ]

        responses = await asyncio.gather(
            *(api.http.post(f"/sessions/{session_id}", json=body) for body in bodies)
        )

        assert sorted(r.status_code for r in responses) == [200, 201], [r.text for r in responses]
        stored = await api.store.get_session(session_id)
        assert stored.metadata["trial"] == trial
        assert stored.tags == [stored.metadata["by"]]  # one request's fields, whole


async def test_concurrent_tag_replacements_end_with_exactly_one_clients_tags(api: Api) -> None:
    created = await api.http.post("/sessions", json={"agent": "ada", "tags": ["start"]})
    session_id = created.json()["id"]
    seen: set[tuple[str, ...]] = set()
    for _ in range(50):
        responses = await asyncio.gather(
            api.http.patch(f"/sessions/{session_id}", json={"tags": ["a"]}),
            api.http.patch(f"/sessions/{session_id}", json={"tags": ["b"]}),
        )

        assert [r.status_code for r in responses] == [200, 200]
        final = (await api.http.get(f"/sessions/{session_id}")).json()["tags"]
        assert final in (["a"], ["b"])
        seen.add(tuple(final))
    assert seen <= {("a",), ("b",)}


def events(raw: str) -> list[dict[str, Any]]:
    return [json.loads(line.removeprefix("data: ")) for line in raw.split("\n\n") if line]


async def start_stream(api: Api, session_id: str) -> tuple[asyncio.Task[str], asyncio.Event]:
    """Start a streamed chat; the event is set once its first chunk has arrived."""
    first_chunk = asyncio.Event()

    async def read() -> str:
        body = {"messages": [{"role": "user", "content": "tell me a long story"}], "stream": True}
        received = ""
        async with api.http.stream("POST", f"/sessions/{session_id}/chat", json=body) as response:
            assert response.status_code == 200
            async for text in response.aiter_text():
                received += text
                first_chunk.set()
        return received

    return asyncio.create_task(read()), first_chunk


async def test_clearing_history_while_a_reply_streams_leaves_it_empty(api: Api) -> None:
    session_id = (await api.http.post("/sessions", json={"agent": "ada"})).json()["id"]
    api.fake.chunk_delay = 0.05
    api.fake.queue_reply("one two three four five six seven eight nine ten")
    stream, first_chunk = await start_stream(api, session_id)
    await asyncio.wait_for(first_chunk.wait(), 5)

    cleared = await api.http.delete(f"/sessions/{session_id}/history")

    assert cleared.status_code == 202
    assert (await api.http.get(f"/sessions/{session_id}/history")).json()["entries"] == []
    last = events(await asyncio.wait_for(stream, 10))[-1]
    assert last["choices"][0]["finish_reason"] == "stop" or (
        last["error"]["code"] == "reply_discarded"
    )
    assert await api.store.count_messages(UUID(session_id)) == 0


async def test_a_reply_whose_message_vanished_ends_the_stream_with_a_clean_error_event(
    api: Api,
) -> None:
    """Another process (here: the store directly, without the engine's wait) clears the
    history mid-reply: the reply is not kept, and the stream says so in its last event."""
    session_id = (await api.http.post("/sessions", json={"agent": "ada"})).json()["id"]
    api.fake.chunk_delay = 0.05
    api.fake.queue_reply("one two three four five six seven eight nine ten")
    stream, first_chunk = await start_stream(api, session_id)
    await asyncio.wait_for(first_chunk.wait(), 5)

    await api.store.clear_history(UUID(session_id))

    chunks = events(await asyncio.wait_for(stream, 10))
    error = chunks[-1]["error"]
    assert error["code"] == "reply_discarded"
    assert "not kept" in error["message"]
    assert await api.store.count_messages(UUID(session_id)) == 0


async def test_a_non_streamed_reply_whose_message_vanished_is_409(api: Api) -> None:
    session_id = (await api.http.post("/sessions", json={"agent": "ada"})).json()["id"]
    api.fake.chunk_delay = 0.1
    api.fake.queue_reply("one two three four five six")
    body = {"messages": [{"role": "user", "content": "hi"}]}
    chat = asyncio.create_task(api.http.post(f"/sessions/{session_id}/chat", json=body))
    await api.fake.wait_for_requests(1)

    await api.store.clear_history(UUID(session_id))

    response = await asyncio.wait_for(chat, 10)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "reply_discarded"
    assert await api.store.count_messages(UUID(session_id)) == 0
