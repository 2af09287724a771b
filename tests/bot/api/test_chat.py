"""Chat and render through the julep SDK: the engine stores both sides and streams the reply."""

from __future__ import annotations

import json
from uuid import UUID

import julep
import pytest
from julep import AsyncJulep

from storage import Role
from tests.bot.api.conftest import Api


async def new_session(client: AsyncJulep, agent: str = "ada", user: str = "ana") -> str:
    return (await client.sessions.create(agent=agent, user=user)).id


async def test_chat_stores_both_sides_and_returns_the_reply(client: AsyncJulep, api: Api) -> None:
    session_id = await new_session(client)
    api.fake.queue_reply("Hello Ana, what are we building?")

    response = await client.sessions.chat(
        session_id, messages=[{"role": "user", "content": "hi there"}]
    )

    message = response.choices[0].message  # type: ignore[union-attr]
    assert message.role == "assistant"
    assert message.content == "Hello Ana, what are we building?"
    assert response.usage is not None and response.usage.completion_tokens == 6
    history = await api.store.recent_history(UUID(session_id), limit=10)
    assert [(m.role, m.content, m.author_name) for m in history] == [
        (Role.USER, "hi there", "ana"),
        (Role.ASSISTANT, "Hello Ana, what are we building?", "Ada"),
    ]
    assert message.id == str(history[1].id)
    sent = api.fake.chat_requests[-1].body
    assert sent["messages"] == [
        {"role": "system", "content": "You are Ada, a careful engineer."},
        {"role": "user", "content": "ana: hi there"},
    ]
    assert sent["model"] == "test-model"


async def test_the_message_name_is_the_speaker_and_text_parts_are_joined(
    client: AsyncJulep, api: Api
) -> None:
    session_id = await new_session(client)

    await client.sessions.chat(
        session_id,
        messages=[
            {"role": "user", "content": "first", "name": "Ben"},
            {"role": "user", "content": [{"type": "text", "text": "second"}, "third"]},
        ],
    )

    sent = api.fake.chat_requests[-1].body["messages"]
    assert sent[1:] == [
        {"role": "user", "content": "Ben: first"},
        {"role": "user", "content": "ana: second\nthird"},
    ]
    assert len(api.fake.chat_requests) == 1  # one reply, to the last message


async def test_a_second_turn_carries_the_first(client: AsyncJulep, api: Api) -> None:
    session_id = await new_session(client)
    await client.sessions.chat(session_id, messages=[{"role": "user", "content": "one"}])

    await client.sessions.chat(session_id, messages=[{"role": "user", "content": "two"}])

    assert api.fake.chat_requests[-1].body["messages"][1:] == [
        {"role": "user", "content": "ana: one"},
        {"role": "assistant", "content": "echo: ana: one"},
        {"role": "user", "content": "ana: two"},
    ]


async def test_streamed_chat_arrives_as_chunks_and_is_stored(client: AsyncJulep, api: Api) -> None:
    session_id = await new_session(client)
    api.fake.queue_reply("one two three")

    stream = await client.sessions.chat(
        session_id, messages=[{"role": "user", "content": "count"}], stream=True
    )
    chunks = [chunk async for chunk in stream]  # type: ignore[union-attr]

    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)  # type: ignore[misc]
    assert text == "one two three"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    assert len({chunk.id for chunk in chunks}) == 1
    history = await api.store.recent_history(UUID(session_id), limit=10)
    assert [m.content for m in history] == ["count", "one two three"]


async def test_stream_events_are_plain_json_lines_without_a_done_sentinel(api: Api) -> None:
    created = (await api.http.post("/sessions", json={"agent": "ada"})).json()
    api.fake.queue_reply("a b")

    async with api.http.stream(
        "POST",
        f"/sessions/{created['id']}/chat",
        json={"messages": [{"role": "user", "content": "go"}], "stream": True},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in response.aiter_lines() if line]

    assert all(line.startswith("data: ") for line in lines)
    events = [json.loads(line.removeprefix("data: ")) for line in lines]
    assert [e["choices"][0]["delta"]["content"] for e in events] == ["a", " b", ""]


async def test_model_failure_before_the_reply_is_502_and_keeps_the_users_message(
    client: AsyncJulep, api: Api
) -> None:
    session_id = await new_session(client)
    api.fake.fail_next(500)

    with pytest.raises(julep.InternalServerError) as caught:
        await client.sessions.chat(session_id, messages=[{"role": "user", "content": "hello?"}])

    assert caught.value.status_code == 502
    assert caught.value.body["error"]["code"] == "model_failed"  # type: ignore[index]
    history = await api.store.recent_history(UUID(session_id), limit=10)
    assert [m.content for m in history] == ["hello?"]


async def test_model_failure_mid_stream_ends_with_an_error_event(
    client: AsyncJulep, api: Api
) -> None:
    session_id = await new_session(client)
    api.fake.queue_reply("one two three four")
    api.fake.error_event_after(3)

    stream = await client.sessions.chat(
        session_id, messages=[{"role": "user", "content": "go"}], stream=True
    )
    chunks = [chunk async for chunk in stream]  # type: ignore[union-attr]

    last = chunks[-1].to_dict()
    assert last["error"]["code"] == "model_failed"
    history = await api.store.recent_history(UUID(session_id), limit=10)
    assert [m.role for m in history] == [Role.USER]  # no half reply is stored


async def test_chat_on_an_ended_session_is_409_and_stores_nothing(
    client: AsyncJulep, api: Api
) -> None:
    session_id = await new_session(client)
    await api.store.end_session(UUID(session_id))

    with pytest.raises(julep.ConflictError):
        await client.sessions.chat(session_id, messages=[{"role": "user", "content": "hi"}])

    assert await api.store.count_messages(UUID(session_id)) == 0
    assert api.fake.chat_requests == []


async def test_chat_when_the_persona_file_is_gone_is_409(client: AsyncJulep, api: Api) -> None:
    session_id = await new_session(client)
    (api.persona_dir / "ada.yaml").unlink()
    await api.personas.load()

    with pytest.raises(julep.ConflictError) as caught:
        await client.sessions.chat(session_id, messages=[{"role": "user", "content": "hi"}])

    assert caught.value.body["error"]["code"] == "agent_unavailable"  # type: ignore[index]
    assert "ada" in caught.value.body["error"]["message"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "messages.0.role"),
        ({"messages": [{"role": "system", "content": "obey"}]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": "  "}]}, "messages.0.content"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
        ({"messages": [{"role": "user"}]}, "messages.0.content"),
        ({"messages": [{"role": "user", "content": "hi"}], "stream": "yes"}, "stream"),
        ({"messages": [{"role": "user", "content": "hi"}], "save": False}, "save"),
        ({"messages": [{"role": "user", "content": "hi"}], "tools": [{"x": 1}]}, "tools"),
    ],
)
async def test_bad_chat_bodies_are_422_and_store_nothing(
    api: Api, body: dict[str, object], field: str
) -> None:
    created = (await api.http.post("/sessions", json={"agent": "ada"})).json()

    response = await api.http.post(f"/sessions/{created['id']}/chat", json=body)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert await api.store.count_messages(UUID(created["id"])) == 0
    assert api.fake.chat_requests == []


async def test_julep_sampling_options_are_accepted_and_the_persona_decides(
    client: AsyncJulep, api: Api
) -> None:
    session_id = await new_session(client, agent="sara")

    await client.sessions.chat(
        session_id,
        messages=[{"role": "user", "content": "hi"}],
        model="gpt-4",
        temperature=1,
        max_tokens=5,
        recall=False,
    )

    sent = api.fake.chat_requests[-1].body
    assert sent["model"] == "test-model"
    assert sent["temperature"] == 0.6  # sara.yaml


async def test_render_shows_exactly_what_the_model_would_get_without_calling_it(
    client: AsyncJulep, api: Api
) -> None:
    session_id = await new_session(client)
    await client.sessions.chat(session_id, messages=[{"role": "user", "content": "one"}])
    calls = len(api.fake.chat_requests)

    rendered = await client.sessions.render(
        session_id, messages=[{"role": "user", "content": "two", "name": "Ben"}]
    )

    assert [(m.role, m.content) for m in rendered.messages] == [
        ("system", "You are Ada, a careful engineer."),
        ("user", "ana: one"),
        ("assistant", "echo: ana: one"),
        ("user", "Ben: two"),
    ]
    assert len(api.fake.chat_requests) == calls
    assert await api.store.count_messages(UUID(session_id)) == 2
    await client.sessions.chat(
        session_id, messages=[{"role": "user", "content": "two", "name": "Ben"}]
    )
    assert api.fake.chat_requests[-1].body["messages"] == [
        {"role": m.role, "content": m.content} for m in rendered.messages
    ]


async def test_render_with_no_messages_is_the_next_replys_context(
    client: AsyncJulep, api: Api
) -> None:
    session_id = await new_session(client, agent="sara")

    rendered = await client.sessions.render(session_id, messages=[])

    raw = rendered.to_dict()
    assert raw["messages"][0] == {"role": "system", "content": api.personas.get("sara").situation}
    assert raw["messages"][-1]["role"] == "assistant"  # the greeting
    assert raw["model"] == "test-model"
    assert raw["temperature"] == 0.6
