"""Sessions as the API writes them: the same JSON as the store's Julep shape, whatever is stored."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from tests.bot.api.conftest import Api

EXTRA_KEYS = {
    "token_budget",
    "context_overflow",
    "system_template",
    "binding_key",
    "follows_agent",
    "agents",
}


async def stored_julep(api: Api, session_id: str) -> dict[str, Any]:
    return (await api.store.get_session(UUID(session_id))).to_julep()


async def test_listed_and_fetched_sessions_carry_the_stored_julep_shape(api: Api) -> None:
    metadata = {"db_uuid": "1234", "name": "Zoë ✓ 日本", "nested": {"x": [1, 2.5, None, True]}}
    created = await api.http.post(
        "/sessions", json={"agent": "ada", "metadata": metadata, "tags": ["Ünï", "b"]}
    )
    session_id = created.json()["id"]
    expected = await stored_julep(api, session_id)

    listed = (await api.http.get("/sessions")).json()["items"]
    fetched = (await api.http.get(f"/sessions/{session_id}")).json()

    for shape in (created.json(), listed[0], fetched):
        assert {key: shape[key] for key in expected} == expected
        assert set(shape) == set(expected) | EXTRA_KEYS
    assert fetched["created_at"].endswith("Z")
    assert fetched["metadata"] == {"team": "core", **metadata}  # ada's own, then the request's


def edit_metadata(database: Path, session_id: str, text: str) -> None:
    connection = sqlite3.connect(database)
    try:
        with connection:
            connection.execute("UPDATE sessions SET metadata = ? WHERE id = ?", (text, session_id))
    finally:
        connection.close()


@pytest.mark.sqlite_only  # edits the SQLite file by hand
async def test_a_hand_edited_row_beyond_what_orjson_writes_is_still_listed(
    api: Api, tmp_path: Path
) -> None:
    session_id = (await api.http.post("/sessions", json={"agent": "ada"})).json()["id"]
    edit_metadata(tmp_path / "sessions.db", session_id, '{"big": 123456789012345678901234567890}')

    listed = await api.http.get("/sessions")
    fetched = await api.http.get(f"/sessions/{session_id}")

    assert listed.status_code == fetched.status_code == 200
    assert listed.json()["items"][0]["metadata"] == {"big": 123456789012345678901234567890}
    assert fetched.json() == listed.json()["items"][0]
    assert fetched.json()["created_at"] == (await stored_julep(api, session_id))["created_at"]


async def test_every_listed_session_is_what_fetching_it_answers(api: Api) -> None:
    crowded = await api.http.post(
        "/sessions", json={"agents": ["ada", "sara", "tutor"], "tags": ["b", "a"]}
    )
    pinned = await api.http.post(
        "/sessions", json={"agent": "sara", "situation": "Own {{ x }}.", "metadata": {"f": 1e16}}
    )
    ended = (await api.http.post("/sessions", json={"agent": "ada"})).json()["id"]
    await api.http.patch(f"/sessions/{ended}", json={"status": "ended"})
    ghost = await api.store.create_session(agent_id="ghost", situation="A persona file gone.")
    await api.store.add_session_agent(ghost.id, "ada")

    listed = (await api.http.get("/sessions")).json()["items"]

    assert [item["id"] for item in listed] == [
        str(ghost.id),
        ended,
        pinned.json()["id"],
        crowded.json()["id"],
    ]
    for item in listed:
        assert item == (await api.http.get(f"/sessions/{item['id']}")).json()
    assert listed[0]["agents"] == ["ghost", "ada"]
    assert listed[0]["token_budget"] is None
    assert listed[3]["agents"] == ["ada", "sara", "tutor"]
