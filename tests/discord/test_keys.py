"""Conversation keys of guild channels, threads and DMs."""

from __future__ import annotations

from bot.discord_app.keys import Place, conversation_key, guild_prefix, parse_key


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
