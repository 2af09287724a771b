"""`GET /sessions/{id}/history`: the whole history streamed, or pages by `limit` and `before`."""

from __future__ import annotations

import json

from bot.api.shapes import history_json
from storage import Role
from tests.bot.api.conftest import Api


async def test_whole_history_is_streamed_with_the_same_bytes(api: Api) -> None:
    session = await api.store.create_session(agent_id="sara", situation="S.")
    for index in range(1_203):  # more than two storage batches
        await api.store.append_message(
            session.id, role=Role.USER, content=f'm{index} ✓ "q"', author_name="Ana", tokens=2
        )
    response = await api.http.get(f"/sessions/{session.id}/history")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    messages = await api.store.recent_history(session.id, limit=2_000)
    assert response.content == json.dumps(history_json(session, messages)).encode()
    assert len(response.json()["entries"]) == 1_203


async def test_limit_and_before_page_back_through_the_history(api: Api) -> None:
    session = await api.store.create_session(agent_id="sara", situation="S.")
    for index in range(10):
        await api.store.append_message(session.id, role=Role.USER, content=f"m{index}", tokens=1)
    url = f"/sessions/{session.id}/history"
    latest = (await api.http.get(url, params={"limit": 4})).json()["entries"]
    assert [e["content"] for e in latest] == ["m6", "m7", "m8", "m9"]
    older = (await api.http.get(url, params={"limit": 4, "before": latest[0]["id"]})).json()
    assert [e["content"] for e in older["entries"]] == ["m2", "m3", "m4", "m5"]
    rest = (await api.http.get(url, params={"before": older["entries"][0]["id"]})).json()
    assert [e["content"] for e in rest["entries"]] == ["m0", "m1"]
    empty = await api.store.create_session(agent_id="sara", situation="S.")
    assert (await api.http.get(f"/sessions/{empty.id}/history")).json()["entries"] == []
    bad = await api.http.get(url, params={"after": 1})
    assert bad.status_code == 422 and "limit and before" in bad.json()["error"]["message"]
