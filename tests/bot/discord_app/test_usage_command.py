"""End to end: `/usage` shows messages, replies and tokens privately, yours or the server's."""

from __future__ import annotations

from bot.discord_app.bot import SessionBot
from bot.discord_app.cogs.usage import UsageCog
from storage import Message, Role
from tests.bot.discord_app.harness import Harness, is_ephemeral, text_of
from tests.bot.discord_app.test_commands import bot as commands_bot
from tests.bot.discord_app.test_commands import registered

bot = commands_bot  # the bot of the command-tree tests, not a running one


async def conversation(h: Harness) -> list[Message]:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hello there")
    await h.say(h.general, h.alice, "how are you")
    await h.say(h.general, h.bob, "and me")
    session = await h.session_here(h.general)
    assert session is not None
    return await h.history(session)


def figures_of(history: list[Message], person: str) -> tuple[int, int, int]:
    """What the person wrote and the replies that answered them, from the stored rows."""
    asked = {m.id: m for m in history if m.role is Role.USER and m.author_id == person}
    replies = [m for m in history if m.role is Role.ASSISTANT and m.reply_to in asked]
    tokens = sum(m.tokens for m in asked.values()) + sum(m.tokens for m in replies)
    return len(asked), len(replies), tokens


async def test_usage_is_one_described_command_with_scope_choices(bot: SessionBot) -> None:
    await bot.add_cog(UsageCog(bot))
    usage = registered(bot)["usage"]
    assert usage["description"]
    options = {o["name"]: o for o in usage["options"]}
    assert [c["value"] for c in options["scope"]["choices"]] == ["me", "server"]
    assert options["days"]["min_value"] == 1 and options["days"]["max_value"] == 90
    assert all(o["description"] for o in options.values())


async def test_usage_me_shows_my_figures_here_privately(h: Harness) -> None:
    history = await conversation(h)
    messages, replies, tokens = figures_of(history, str(h.alice))
    assert (messages, replies) == (2, 2)
    record = await h.command("usage", channel=h.general, user=h.alice)
    assert is_ephemeral(record)
    text = text_of(record)
    assert text.startswith(
        f"**Your usage here, the last 7 days:** 2 messages, 2 replies, {tokens:,} tokens."
    )
    assert f"Sara: 2 messages, 2 replies, {tokens:,} tokens" in text
    elsewhere = await h.command("usage", {"days": 1}, channel=h.elsewhere, user=h.alice)
    assert text_of(elsewhere).startswith("**Your usage here, the last day:** 0 messages")


async def test_usage_of_the_server_lists_people_for_managers_only(h: Harness) -> None:
    history = await conversation(h)
    refused = await h.command("usage", {"scope": "server"}, channel=h.general, user=h.alice)
    assert is_ephemeral(refused)
    assert text_of(refused).startswith("You need the Manage Server permission")
    record = await h.command("usage", {"scope": "server"}, channel=h.general, user=h.admin)
    assert is_ephemeral(record)
    text = text_of(record)
    total = sum(m.tokens for m in history)
    assert text.startswith(
        f"**This server's usage, the last 7 days:** 3 messages, 4 replies, {total:,} tokens."
    )  # the greeting is a reply too, answering no one
    alice = figures_of(history, str(h.alice))
    bob = figures_of(history, str(h.bob))
    assert f"<@{h.alice}>: 2 messages, 2 replies, {alice[2]:,} tokens" in text
    assert f"<@{h.bob}>: 1 message, 1 reply, {bob[2]:,} tokens" in text
    assert not record.original.pings()


async def test_usage_of_a_server_is_refused_in_a_dm(h: Harness) -> None:
    dm = h.fake.open_dm(h.alice)
    await h.say(dm, h.alice, "hello in private")
    refused = await h.command("usage", {"scope": "server"}, channel=dm, user=h.alice)
    assert text_of(refused).startswith("This command works in a server only")
    mine = await h.command("usage", channel=dm, user=h.alice)
    assert text_of(mine).startswith("**Your usage in your DMs with me, the last 7 days:** 1 m")
