"""GET /agents: the loaded personas in Julep's agent shape, read through the julep SDK."""

from __future__ import annotations

import julep
import pytest
from julep import AsyncJulep

from tests.bot.api.conftest import Api
from tests.helpers import write_persona


async def test_list_agents_returns_every_loaded_persona(client: AsyncJulep, api: Api) -> None:
    agents = [agent async for agent in client.agents.list()]

    assert [agent.id for agent in agents] == ["ada", "gamemaster", "sara", "tutor"]
    sara = next(agent for agent in agents if agent.id == "sara")
    profile = api.personas.get("sara")
    assert sara.name == "Sara"
    assert sara.about == profile.description
    assert sara.instructions == [profile.situation]
    assert sara.model == "test-model"  # the configured default; sara.yaml names none
    assert sara.created_at.tzinfo is not None
    assert sara.default_settings == {"temperature": 0.6, "max_tokens": 700}


async def test_get_agent_by_persona_id(client: AsyncJulep) -> None:
    ada = await client.agents.get("ada")

    assert (ada.id, ada.name, ada.about, ada.metadata) == (
        "ada",
        "Ada",
        "A careful engineer.",
        {"team": "core"},
    )


async def test_unknown_agent_is_404(client: AsyncJulep) -> None:
    with pytest.raises(julep.NotFoundError) as caught:
        await client.agents.get("sarah")

    assert "Available: ada" in caught.value.body["error"]["message"]  # type: ignore[index]


async def test_agents_page_and_filter_by_metadata(client: AsyncJulep) -> None:
    page = await client.agents.list(limit=2, offset=1)
    filtered = await client.agents.list(metadata_filter={"team": "core"})

    assert [agent.id for agent in page.items] == ["gamemaster", "sara"]
    assert [agent.id for agent in filtered.items] == ["ada"]


async def test_a_persona_added_on_disk_shows_after_reload(client: AsyncJulep, api: Api) -> None:
    write_persona(api.persona_dir, "zed", name="Zed", situation="You are Zed.", model="big")
    await api.personas.load()

    zed = await client.agents.get("zed")

    assert (zed.name, zed.model) == ("Zed", "big")
    created = await client.sessions.create(agent="zed")
    assert created.situation == "You are Zed."
