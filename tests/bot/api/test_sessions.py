"""Session endpoints through the official julep SDK (and httpx for what the SDK cannot send)."""

from __future__ import annotations

from datetime import UTC
from uuid import UUID, uuid4

import julep
import pytest
from julep import AsyncJulep

from storage import ListQuery, Role, SessionStatus
from tests.bot.api.conftest import Api
from tests.helpers import JULEP_SESSION_KEYS, SESSION_KEYS, TIMESTAMP


async def test_sdk_create_with_agent_and_user_returns_the_julep_session_shape(
    client: AsyncJulep, api: Api
) -> None:
    session = await client.sessions.create(
        agent="ada", user="ana", situation="You are Ada, on call.", metadata={"db_uuid": "1234"}
    )

    raw = session.to_dict()
    assert set(SESSION_KEYS) <= raw.keys()
    assert raw["agent_id"] == "ada"
    assert raw["user_id"] == "ana"
    assert raw["situation"] == "You are Ada, on call."
    assert raw["summary"] is None
    assert raw["render_templates"] is False
    assert raw["metadata"] == {"team": "core", "db_uuid": "1234"}  # persona defaults first
    assert raw["status"] == "active"
    assert session.created_at.tzinfo is not None
    stored = await api.store.get_session(UUID(session.id))
    assert stored.persona_version is None  # an explicit situation does not follow the persona


async def test_documented_spelling_agent_id_user_id_creates_the_same_session(api: Api) -> None:
    response = await api.http.post(
        "/sessions",
        json={
            "agent_id": "sara",
            "user_id": "621ff51c-a813-4046-bfc6-ec425003e8c7",
            "situation": "\nYou are Sara.\nAbout you:\n...\n",
            "metadata": {"db_uuid": "1234"},
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert body.keys() >= set(JULEP_SESSION_KEYS)
    assert body["agent_id"] == "sara"
    assert body["user_id"] == "621ff51c-a813-4046-bfc6-ec425003e8c7"
    assert body["situation"] == "\nYou are Sara.\nAbout you:\n...\n"
    assert TIMESTAMP.match(body["created_at"]) and TIMESTAMP.match(body["updated_at"])
    UUID(body["id"])


async def test_both_spellings_must_agree(api: Api) -> None:
    response = await api.http.post("/sessions", json={"agent": "ada", "agent_id": "sara"})

    assert response.status_code == 422
    assert response.json()["error"]["field"] == "agent"
    assert (await api.store.list_sessions(ListQuery())).items == []


async def test_without_a_situation_the_session_follows_its_persona_and_is_greeted(
    client: AsyncJulep, api: Api
) -> None:
    session = await client.sessions.create(agent="sara")

    stored = await api.store.get_session(UUID(session.id))
    sara = api.personas.get("sara")
    assert stored.situation == sara.situation
    assert stored.persona_version == sara.version
    history = await client.sessions.history(session.id)
    assert [entry.role for entry in history.entries] == ["assistant"]
    assert history.entries[0].content == sara.greeting
    assert session.to_dict()["follows_agent"] is True


async def test_no_agent_uses_the_default_persona(client: AsyncJulep) -> None:
    session = await client.sessions.create()

    assert session.to_dict()["agent_id"] == "ada"


async def test_unknown_agent_is_404_naming_the_loaded_ones(client: AsyncJulep, api: Api) -> None:
    with pytest.raises(julep.NotFoundError) as caught:
        await client.sessions.create(agent="nobody")

    error = caught.value.body["error"]  # type: ignore[index]
    assert error["code"] == "agent_not_found"
    assert "ada" in error["message"] and "sara" in error["message"]
    assert (await api.store.list_sessions(ListQuery())).items == []


async def test_get_returns_the_stored_session(client: AsyncJulep) -> None:
    created = await client.sessions.create(agent="ada", metadata={"k": [1, {"x": None}]})

    fetched = await client.sessions.get(created.id)

    assert fetched.to_dict() == created.to_dict()


async def test_patch_merges_metadata_and_replaces_tags(client: AsyncJulep, api: Api) -> None:
    created = await client.sessions.create(agent="ada", metadata={"a": 1, "b": 2})
    await api.store.retag(UUID(created.id), add=["old"])

    patched = await client.sessions.update(
        created.id, metadata={"b": None, "c": "three"}, extra_body={"tags": ["New", "x"]}
    )

    raw = patched.to_dict()
    assert raw["metadata"] == {"team": "core", "a": 1, "c": "three"}
    assert raw["tags"] == ["new", "x"]
    assert raw["agent_id"] == "ada"


async def test_patch_situation_pins_it_and_null_follows_the_persona_again(
    client: AsyncJulep, api: Api
) -> None:
    created = await client.sessions.create(agent="ada")
    await client.sessions.update(created.id, situation="Only answer in haiku.")
    pinned = await api.store.get_session(UUID(created.id))
    assert (pinned.situation, pinned.persona_version) == ("Only answer in haiku.", None)

    await client.sessions.update(created.id, situation=None)

    following = await api.store.get_session(UUID(created.id))
    ada = api.personas.get("ada")
    assert (following.situation, following.persona_version) == (ada.situation, ada.version)


async def test_patch_status_ended_ends_the_session_and_it_cannot_reopen(
    client: AsyncJulep, api: Api
) -> None:
    created = await client.sessions.create(agent="ada")

    ended = await client.sessions.update(created.id, extra_body={"status": "ended"})
    assert ended.to_dict()["status"] == "ended"
    with pytest.raises(julep.ConflictError):
        await client.sessions.update(created.id, extra_body={"status": "active"})
    assert (await api.store.get_session(UUID(created.id))).status is SessionStatus.ENDED


async def test_put_replaces_every_settable_field(client: AsyncJulep) -> None:
    created = await client.sessions.create(
        agent="ada", user="ana", situation="Custom.", metadata={"a": 1}
    )

    replaced = await client.sessions.reset(created.id, metadata={"b": 2})

    raw = replaced.to_dict()
    assert raw["metadata"] == {"b": 2}
    assert raw["situation"] == "You are Ada, a careful engineer."  # follows the persona again
    assert raw["user_id"] == "ana"  # PUT does not change agent or user
    assert raw["follows_agent"] is True


async def test_create_or_update_creates_with_the_given_id_then_updates(
    client: AsyncJulep, api: Api
) -> None:
    wanted = str(uuid4())

    first = await client.sessions.create_or_update(wanted, agent="ada", metadata={"n": 1})
    second = await client.sessions.create_or_update(wanted, agent="sara", metadata={"n": 2})

    assert first.id == second.id == wanted
    raw = second.to_dict()
    assert raw["agent_id"] == "sara"
    assert raw["metadata"] == {"n": 2}
    assert raw["situation"] == api.personas.get("sara").situation
    assert len((await api.store.list_sessions(ListQuery())).items) == 1


async def test_create_or_update_status_codes(api: Api) -> None:
    wanted = str(uuid4())
    assert (await api.http.post(f"/sessions/{wanted}", json={})).status_code == 201
    assert (await api.http.post(f"/sessions/{wanted}", json={})).status_code == 200
    bad = await api.http.post("/sessions/not-a-uuid", json={})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "session_id"


async def test_delete_removes_the_session_and_its_messages(client: AsyncJulep, api: Api) -> None:
    created = await client.sessions.create(agent="sara")

    deleted = await client.sessions.delete(created.id)

    assert deleted.id == created.id
    assert deleted.deleted_at.tzinfo == UTC
    with pytest.raises(julep.NotFoundError):
        await client.sessions.get(created.id)
    assert (await api.store.list_sessions(ListQuery())).items == []


async def test_history_lists_stored_messages_oldest_first(client: AsyncJulep, api: Api) -> None:
    created = await client.sessions.create(agent="ada", user="ana")
    session_id = UUID(created.id)
    for n in range(3):
        await api.store.append_message(
            session_id, role=Role.USER, content=f"m{n}", author_name="Ana", tokens=2
        )

    history = await client.sessions.history(created.id)

    assert history.session_id == created.id
    assert [entry.content for entry in history.entries] == ["m0", "m1", "m2"]
    assert {entry.source for entry in history.entries} == {"api_request"}
    assert history.entries[0].name == "Ana"
    latest = (await api.http.get(f"/sessions/{created.id}/history?limit=2")).json()
    assert [entry["content"] for entry in latest["entries"]] == ["m1", "m2"]


async def test_clearing_history_keeps_the_session(client: AsyncJulep, api: Api) -> None:
    created = await client.sessions.create(agent="sara")

    response = await api.http.delete(f"/sessions/{created.id}/history")

    assert response.status_code == 202
    assert (await client.sessions.history(created.id)).entries == []
    assert (await client.sessions.get(created.id)).id == created.id


async def test_discord_sessions_show_their_binding_and_platform_metadata(
    client: AsyncJulep, api: Api
) -> None:
    born = await api.engine.start_session(
        persona_id="ada",
        binding_key="discord:1:2",
        metadata={"guild_id": "1", "channel_id": "2"},
    )

    found = [s async for s in client.sessions.list(metadata_filter={"channel_id": "2"})]

    assert [s.id for s in found] == [str(born.session.id)]
    assert found[0].to_dict()["binding_key"] == "discord:1:2"


async def test_api_sessions_can_be_bound_to_a_channel_later(client: AsyncJulep, api: Api) -> None:
    created = await client.sessions.create(agent="ada")

    await api.store.bind_session(UUID(created.id), "discord:1:3")

    assert (await client.sessions.get(created.id)).to_dict()["binding_key"] == ("discord:1:3")
