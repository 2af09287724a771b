"""Several personas in one session through the API: Julep's `agents: [...]`."""

from __future__ import annotations

from uuid import UUID

from julep import AsyncJulep

from tests.bot.api.conftest import Api


async def test_sdk_create_with_agents_makes_the_first_the_main_persona(
    client: AsyncJulep, api: Api
) -> None:
    session = await client.sessions.create(agents=["ada", "sara", "tutor"])
    raw = session.to_dict()
    assert raw["agent_id"] == "ada"
    assert raw["agents"] == ["ada", "sara", "tutor"]
    assert await api.store.session_agents(UUID(session.id)) == ["sara", "tutor"]
    fetched = (await api.http.get(f"/sessions/{session.id}")).json()
    listed = (await api.http.get("/sessions")).json()["items"]
    assert fetched["agents"] == listed[0]["agents"] == ["ada", "sara", "tutor"]


async def test_agent_and_agents_together_keep_agent_as_the_main_persona(api: Api) -> None:
    response = await api.http.post("/sessions", json={"agent": "sara", "agents": ["ada", "sara"]})
    assert response.status_code == 201
    assert (response.json()["agent_id"], response.json()["agents"]) == ("sara", ["sara", "ada"])


async def test_a_session_of_one_persona_lists_it_alone(api: Api) -> None:
    response = await api.http.post("/sessions", json={"agent": "ada"})
    assert response.json()["agents"] == ["ada"]


async def test_an_unknown_persona_in_agents_is_404_and_creates_nothing(api: Api) -> None:
    response = await api.http.post("/sessions", json={"agents": ["ada", "nobody"]})
    assert response.status_code == 404
    assert "nobody" in response.text and "agent_not_found" in response.text
    assert (await api.http.get("/sessions")).json()["items"] == []


async def test_agents_must_be_a_list_of_ids(api: Api) -> None:
    response = await api.http.post("/sessions", json={"agents": "ada"})
    assert response.status_code == 422
    assert "agents" in response.text


async def test_chat_is_answered_by_the_persona_the_message_names(
    client: AsyncJulep, api: Api
) -> None:
    session = await client.sessions.create(agents=["ada", "tutor"])
    first = await client.sessions.chat(session.id, messages=[{"role": "user", "content": "hi"}])
    named = await client.sessions.chat(
        session.id, messages=[{"role": "user", "content": "professor quill, a question"}]
    )
    assert first.choices[0].message.name == "Ada"  # type: ignore[union-attr]
    assert named.choices[0].message.name == "Professor Quill"  # type: ignore[union-attr]
    sent = api.fake.chat_requests[-1].body["messages"]
    assert sent[0]["content"].startswith("You are Professor Quill")
    assert sent[-2]["role"] == "user" and sent[-2]["content"].startswith("Ada: ")


async def test_create_or_update_with_agents_replaces_the_other_personas(api: Api) -> None:
    created = (await api.http.post("/sessions", json={"agents": ["ada", "tutor"]})).json()
    updated = await api.http.post(f"/sessions/{created['id']}", json={"agents": ["ada", "sara"]})
    assert updated.status_code == 200
    assert updated.json()["agents"] == ["ada", "sara"]
    unchanged = await api.http.post(f"/sessions/{created['id']}", json={"agent": "ada"})
    assert unchanged.json()["agents"] == ["ada", "sara"]
