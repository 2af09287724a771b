"""The fake Discord's application commands and interactions, with the real discord.py client.

Command sync, slash commands, defer + follow-ups, options, autocomplete, buttons, permissions
and the response deadline.
"""

from __future__ import annotations

import pytest

from tests.bot.discord_app.minibot import MiniBot, World
from tests.fakes.discord_server import FakeDiscord, Permission


async def test_command_tree_sync_registers_commands_with_ids(
    fake_discord: FakeDiscord, bot: MiniBot
) -> None:
    commands = await fake_discord.wait_commands_synced()
    by_name = {c["name"]: c for c in commands}
    assert set(by_name) == {"ping", "menu", "purge", "note"}
    assert [o["name"] for o in by_name["note"]["options"]] == ["add", "who"]
    assert by_name["purge"]["default_member_permissions"] == str(Permission.MANAGE_GUILD)
    assert len({c["id"] for c in commands}) == 4
    assert [c.name for c in await bot.tree.fetch_commands()] == list(by_name)


async def test_slash_command_answers_ephemerally(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    run = await fake_discord.invoke_command("ping", channel_id=world.general, user_id=world.alice)
    response = await fake_discord.wait_response(run)
    assert response["type"] == 4
    assert response["data"]["content"] == "pong"
    assert response["data"]["flags"] == 64
    assert fake_discord.interaction_responses(run.id) == [response]
    assert fake_discord.sent_messages(world.general) == []
    assert fake_discord.sent_messages(world.general, include_ephemeral=True) == [run.original]


async def test_deferred_response_is_filled_by_the_first_followup(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    run = await fake_discord.invoke_command(
        "note add", {"text": "milk", "private": True}, channel_id=world.general, user_id=world.alice
    )
    response = await fake_discord.wait_response(run)
    assert response == {"type": 5, "data": {"flags": 64}}
    await fake_discord.wait_until(lambda: len(run.messages) == 2)
    first, second = run.messages
    assert (first.content, first.ephemeral, first.loading) == ("noted: milk", True, False)
    assert (second.content, second.ephemeral, second.via) == ("anything else?", False, "followup")


async def test_subcommand_options_are_typed_and_resolved(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    run = await fake_discord.invoke_command(
        "note",
        {"user": world.alice},
        subcommand="who",
        channel_id=world.general,
        user_id=world.owner,
    )
    response = await fake_discord.wait_response(run)
    assert response["data"]["content"] == "that is alice"
    with pytest.raises(ValueError, match="no option"):
        await fake_discord.invoke_command(
            "note who", {"nobody": 1}, channel_id=world.general, user_id=world.alice
        )


async def test_autocomplete_answers_with_choices(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    run = await fake_discord.invoke_autocomplete(
        "note add", {"text": "mi"}, "text", channel_id=world.general, user_id=world.alice
    )
    await fake_discord.wait_response(run)
    assert run.response_type == 8
    assert [c["value"] for c in run.choices] == ["milk", "mint"]


async def test_button_click_reaches_the_view_callback(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    run = await fake_discord.invoke_command("menu", channel_id=world.general, user_id=world.alice)
    await fake_discord.wait_response(run)
    assert run.original is not None and run.original.custom_ids() == ["menu:ok"]

    click = await fake_discord.invoke_component("menu:ok", run.original.id, user_id=world.alice)
    assert (await fake_discord.wait_response(click))["type"] == 7
    assert bot.clicks == [world.alice]
    assert (run.original.content, run.original.components) == ("clicked", [])


async def test_default_member_permissions_keep_commands_from_other_users(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    with pytest.raises(PermissionError, match="default_member_permissions"):
        await fake_discord.invoke_command("purge", channel_id=world.general, user_id=world.alice)
    run = await fake_discord.invoke_command("purge", channel_id=world.general, user_id=world.owner)
    assert (await fake_discord.wait_response(run))["data"]["content"] == "purged"


async def test_a_late_interaction_response_is_refused(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    fake_discord.interaction_deadline = 0.0
    run = await fake_discord.invoke_command("ping", channel_id=world.general, user_id=world.alice)
    await fake_discord.wait_until(lambda: bool(run.rejected))
    assert run.callbacks == []
