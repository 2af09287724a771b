"""The slash-command tree as it is registered: groups, options, descriptions, permissions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.discord_app.bot import SessionBot, intents
from bot.discord_app.cogs.persona import PersonaCog
from bot.discord_app.cogs.session import SessionCog
from bot.engine import Engine
from bot.llm import OpenAIChatModel
from situations import PersonaRegistry
from storage import SessionStore
from tests.bot.discord_app.harness import PERSONA_COMMANDS, SESSION_COMMANDS
from tests.helpers import write_persona


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[SessionBot]:
    write_persona(tmp_path, "sara", name="Sara", situation="You are Sara.")
    registry = PersonaRegistry(tmp_path)
    await registry.load()
    store = await SessionStore.open(tmp_path / "db.sqlite")
    model = OpenAIChatModel(base_url="http://127.0.0.1:9/v1", api_key="x", max_retries=0)
    engine = Engine(store=store, personas=registry, model=model, default_model="m")
    bot = SessionBot(settings=Settings(_env_file=None), engine=engine)  # type: ignore[call-arg]
    await bot.add_cog(SessionCog(bot))
    await bot.add_cog(PersonaCog(bot))
    yield bot
    await bot.close()
    await model.close()
    await store.close()


def registered(bot: SessionBot) -> dict[str, dict[str, Any]]:
    return {command.name: command.to_dict(bot.tree) for command in bot.tree.get_commands()}


def test_intents_are_the_four_the_bot_needs() -> None:
    wanted = intents()
    assert wanted.guilds and wanted.guild_messages and wanted.dm_messages
    assert wanted.message_content
    assert not wanted.members and not wanted.presences


async def test_two_groups_with_the_commands_of_the_issue(bot: SessionBot) -> None:
    commands = registered(bot)
    assert set(commands) == {"session", "persona"}
    session = {option["name"] for option in commands["session"]["options"]}
    assert session == SESSION_COMMANDS
    persona = {option["name"] for option in commands["persona"]["options"]}
    assert persona == PERSONA_COMMANDS


async def test_every_command_and_option_is_described(bot: SessionBot) -> None:
    for group in registered(bot).values():
        assert group["description"]
        for command in group["options"]:
            assert command["description"] and command["description"] != "…", command["name"]
            for option in command.get("options", []):
                assert option["description"] != "…", (command["name"], option["name"])


async def test_options_are_typed_and_autocompleted(bot: SessionBot) -> None:
    session = {o["name"]: o for o in registered(bot)["session"]["options"]}
    start = {o["name"]: o for o in session["start"]["options"]}
    assert start["persona"]["required"] and start["persona"]["autocomplete"]
    assert start["tags"]["autocomplete"] and not start["tags"].get("required")
    assert start["thread"]["type"] == 5  # boolean
    listing = {o["name"]: o for o in session["list"]["options"]}
    assert [c["value"] for c in listing["status"]["choices"]] == ["active", "ended", "all"]
    assert listing["tag"]["autocomplete"] and listing["persona"]["autocomplete"]
    [attach_id] = session["attach"]["options"]
    assert (attach_id["name"], attach_id["type"], attach_id["required"]) == ("id", 3, True)
    assert not attach_id.get("autocomplete")  # offering ids would show other servers' sessions
    export = {o["name"]: o for o in session["export"]["options"]}
    assert [c["value"] for c in export["format"]["choices"]] == ["json", "markdown"]
