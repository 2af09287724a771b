"""Idle conversations cost the bot nothing per conversation: no queue, worker, lock or gate is
kept once every message is answered, and the client caches no messages and no members."""

from __future__ import annotations

from bot.discord_app.bot import SessionBot
from storage import Role
from tests.bot.discord_app.harness import Harness


def kept_per_conversation(bot: SessionBot) -> dict[str, int]:
    return {
        "intake queues and workers": bot.intake.queues.kept,
        "reply queues and workers": bot.replies.queues.kept,
        "jobs behind catch-up gates": len(bot.intake.gates),
        "engine session locks": len(bot.engine.locks),
        "failure lines waiting for Discord": len(bot.replies.later),
    }


async def test_conversations_keep_no_queue_worker_lock_or_gate_once_answered(h: Harness) -> None:
    bot = h.running
    await h.fake.send_message(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    await h.fake.send_message(h.random, h.bob, f"<@{h.fake.bot_id}> hello")
    await h.fake.gateway.flush()
    await h.fake.wait_until(lambda: bot.intake.queues.kept + bot.replies.queues.kept > 0)
    await h.settle()
    for channel, author in ((h.general, h.alice), (h.random, h.bob)):
        for text in ("one", "two", "three"):
            await h.fake.send_message(channel, author, text)
    edited = await h.say(h.general, h.alice, "I am 30")
    gone = await h.say(h.random, h.bob, "oops")
    await h.fake.edit_message(int(edited["id"]), "I am 31")
    await h.fake.delete_message(int(gone["id"]))
    await h.settle()

    assert kept_per_conversation(bot) == dict.fromkeys(kept_per_conversation(bot), 0)
    assert not bot.intake.gates.closed
    session = await h.session_here(h.general)
    assert session is not None
    roles = [m.role for m in await h.history(session)]
    assert roles.count(Role.ASSISTANT) == 1 + roles.count(Role.USER) == 6  # greeting, 5 replies


async def test_the_client_caches_no_messages_or_members_and_edits_still_arrive(h: Harness) -> None:
    bot = h.running
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    message = await h.say(h.general, h.bob, "I am 30")
    await h.fake.edit_message(int(message["id"]), "I am 31")
    await h.settle()

    assert list(bot.cached_messages) == []
    guild = bot.get_guild(h.guild)
    assert guild is not None
    assert [member.id for member in guild.members] == [h.fake.bot_id]
    session = await h.session_here(h.general)
    assert session is not None
    contents = [m.content for m in await h.history(session) if m.role is Role.USER]
    assert "I am 31" in contents and "I am 30" not in contents
