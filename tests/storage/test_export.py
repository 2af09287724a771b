"""export_session: JSON that reads back, Markdown a person can read."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest

from storage import Message, Role, SessionNotFound, SessionStore
from tests.storage.helpers import new_session, say


async def test_json_export_round_trips(store: SessionStore) -> None:
    session = await new_session(
        store, tags=["care"], metadata={"lang": "en", "n": [1, {"x": None}]}, summary="So far."
    )
    await say(store, session, "Hello ✓", author_name="Alice", external_id="d-1")
    await say(store, session, "Hi Alice.", role=Role.ASSISTANT, tokens_source="usage")
    session = await store.get_session(session.id)
    document = json.loads(await store.export_session(session.id, "json"))
    assert document["session"] == session.to_julep()
    messages = [Message.model_validate(item) for item in document["messages"]]
    assert messages == await store.recent_history(session.id, limit=100)


async def test_json_export_is_pretty_printed(store: SessionStore) -> None:
    session = await new_session(store)
    text = await store.export_session(session.id, "json")
    assert text.startswith('{\n  "session": {\n    "id": ')
    assert list(json.loads(text)) == ["session", "messages"]


async def test_markdown_export_is_a_transcript(store: SessionStore) -> None:
    session = await new_session(store, agent_id="sara", tags=["b", "a"])
    await say(store, session, "How do I sleep better?", author_name="Alice")
    await say(store, session, "Let's look at your evenings.", role=Role.ASSISTANT)
    await say(store, session, "Be gentle.", role=Role.SYSTEM)
    text = await store.export_session(session.id, "md")
    front, title = text.split("\n---\n")[0], text.split("\n---\n")[1]
    assert front.startswith("---\n")
    assert f"session: {session.id}" in front
    assert 'tags: ["a", "b"]' in front
    assert "status: active" in front
    assert f"# sara · session {session.id}" in title
    alice = text.index("**Alice** (user, ")
    sara = text.index("**sara** (assistant, ")
    system = text.index("**System** (system, ")
    assert alice < text.index("How do I sleep better?") < sara
    assert sara < text.index("Let's look at your evenings.") < system


async def test_markdown_escapes_author_names(store: SessionStore) -> None:
    session = await new_session(store)
    await say(store, session, "hi", author_name="**bold_name**")
    text = await store.export_session(session.id, "md")
    assert "**\\*\\*bold\\_name\\*\\*** (user" in text


async def test_export_of_unknown_session_or_format(store: SessionStore) -> None:
    with pytest.raises(SessionNotFound):
        await store.export_session(uuid4(), "json")
    session = await new_session(store)
    with pytest.raises(ValueError, match="html"):
        await store.export_session(session.id, "html")  # type: ignore[arg-type]
