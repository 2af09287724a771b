"""Conversation keys of guild channels, threads and DMs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from bot.discord_app.places import (
    Place,
    attach_metadata,
    binding,
    conversation_key,
    guild_prefix,
    parse_key,
    session_metadata,
)


def test_guild_channels_and_threads_are_keyed_by_guild_and_channel() -> None:
    assert conversation_key(111, 222) == "discord:111:222"
    assert Place(channel_id=333, guild_id=111, parent_id=222).key == "discord:111:333"


def test_dms_are_keyed_by_their_channel() -> None:
    assert conversation_key(None, 444) == "discord:dm:444"
    assert Place(channel_id=444).is_dm


def test_guild_prefix_matches_only_that_guild() -> None:
    assert conversation_key(1, 5).startswith(guild_prefix(1))
    assert not conversation_key(11, 5).startswith(guild_prefix(1))
    assert not conversation_key(None, 5).startswith(guild_prefix(1))
    assert conversation_key(None, 5).startswith(guild_prefix(None))


def test_keys_parse_back_to_places() -> None:
    assert parse_key("discord:111:222") == Place(channel_id=222, guild_id=111)
    assert parse_key("discord:dm:444") == Place(channel_id=444)
    assert parse_key("terminal") is None
    assert parse_key(None) is None
    assert parse_key("discord:x:1") is None


def test_the_attach_binding_family_holds_every_discord_key_and_no_other() -> None:
    family = binding(Place(channel_id=2, guild_id=1)).family
    assert conversation_key(1, 2).startswith(family) and conversation_key(None, 3).startswith(
        family
    )
    assert not "cli:ana".startswith(family) and not "api:x".startswith(family)
    assert binding(Place(channel_id=3)).private
    assert not binding(Place(channel_id=2, guild_id=1)).private


def test_attach_metadata_names_the_place_and_clears_facts_of_another_place() -> None:
    olga = cast(Any, SimpleNamespace(id=7, display_name="Olga"))
    thread = Place(channel_id=3, guild_id=1, parent_id=2)
    assert attach_metadata(thread, olga) == {
        "platform": "discord",
        "guild_id": "1",
        "channel_id": "3",
        "parent_channel_id": "2",
        "thread": "public",
        "dm": None,
        "attached_by": "7",
        "attached_by_name": "Olga",
    }
    dm = attach_metadata(Place(channel_id=4), olga)
    assert (dm["dm"], dm["guild_id"], dm["parent_channel_id"], dm["thread"]) == (
        True,
        None,
        None,
        None,
    )
    private = attach_metadata(
        Place(channel_id=3, guild_id=1, parent_id=2, private_thread=True), olga
    )
    assert private["thread"] == "private"
    started = session_metadata(Place(channel_id=5, guild_id=1), olga)
    assert started == {
        "platform": "discord",
        "guild_id": "1",
        "channel_id": "5",
        "started_by": "7",
        "started_by_name": "Olga",
    }
