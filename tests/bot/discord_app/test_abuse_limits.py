"""End to end: the abuse limits. Over a limit a message is stored but the model is not asked,
and one notice that pings no one says when to try again; everyone else is still answered."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from storage import Role
from tests.bot.discord_app.harness import Harness, harness
from tests.fakes.discord_server import Payload, Permission, SentMessage


def notices(h: Harness, channel: int) -> list[SentMessage]:
    return [s for s in h.fake.sent_messages(channel) if "try again" in s.content.lower()]


async def burst(h: Harness, channel: int, author: int, texts: list[str]) -> list[Payload]:
    """Post `texts` one after another without waiting for the bot, then let it catch up."""
    sent = [await h.fake.send_message(channel, author, text) for text in texts]
    await h.settle()
    return sent


async def stored_user_messages(h: Harness, channel: int) -> list[str]:
    session = await h.session_here(channel)
    assert session is not None
    return [m.content for m in await h.history(session) if m.role is Role.USER]


async def test_a_person_over_the_rate_is_stored_told_once_and_others_still_answered(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path, user_rate_limit="3/60") as h:
        await h.start()
        first = await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> one")
        rest = await burst(h, h.general, h.alice, ["two", "three", "four", "five"])
        assert len(h.llm.chat_requests) == 3
        [notice] = notices(h, h.general)
        assert notice.content.startswith("You're sending messages faster than I can answer: ")
        assert "3 a minute here. Try again in " in notice.content
        assert notice.reply_to == int(rest[2]["id"]) and not notice.pings()
        assert h.reply_text(first) and h.replies_to(rest[2]) == [notice]
        assert h.replies_to(rest[3]) == []
        assert len(await stored_user_messages(h, h.general)) == 5
        bob = await h.say(h.general, h.bob, "my turn")
        assert h.reply_text(bob) == "echo: Bob: my turn"
        assert len(h.llm.chat_requests) == 4


async def test_a_member_with_manage_server_is_not_held_to_the_personal_rate(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path, user_rate_limit="1/60") as h:
        managers = h.fake.add_role(h.guild, "managers", Permission.MANAGE_GUILD)
        h.fake.add_member(h.guild, h.bob, roles=[managers])
        await h.start()
        await h.say(h.general, h.bob, f"<@{h.fake.bot_id}> one")
        await burst(h, h.general, h.bob, ["two", "three"])
        assert len(h.llm.chat_requests) == 3
        assert notices(h, h.general) == []
        await burst(h, h.general, h.alice, ["a", "b"])
        assert len(h.llm.chat_requests) == 4  # alice has no such permission
        assert len(notices(h, h.general)) == 1


async def test_the_server_rate_is_shared_by_everyone_in_the_server(tmp_path: Path) -> None:
    async with harness(tmp_path, guild_rate_limit="2/60") as h:
        await h.start()
        await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> one")
        await h.say(h.general, h.bob, "two")
        refused = await burst(h, h.general, h.bob, ["three", "four"])
        assert len(h.llm.chat_requests) == 2
        [notice] = notices(h, h.general)
        assert notice.reply_to == int(refused[0]["id"]) and not notice.pings()
        assert notice.content.startswith("This server is sending messages faster than I can")
        assert "2 a minute" in notice.content
        await h.say(h.elsewhere, h.alice, f"<@{h.fake.bot_id}> hi")  # another server
        assert len(h.llm.chat_requests) == 3
        dm = h.fake.open_dm(h.bob)
        await h.say(dm, h.bob, "in private")  # DMs have no server limit
        assert len(h.llm.chat_requests) == 4


async def test_a_spent_daily_token_budget_stops_the_model_until_tomorrow(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path) as h:
        await h.start()
        first = await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> tell me a story")
        assert h.reply_text(first)
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        spent = await h.store.tokens_since(f"discord:{h.guild}:", midnight)
        await h.stop()
        await h.start(guild_daily_tokens=spent + 1)  # read from the store at first use
        answered = await h.say(h.general, h.bob, "and then?")
        assert h.reply_text(answered) == "echo: Bob: and then?"
        refused = await burst(h, h.general, h.bob, ["hello?", "anyone?"])
        assert len(h.llm.chat_requests) == 2
        [notice] = notices(h, h.general)
        assert notice.reply_to == int(refused[0]["id"]) and not notice.pings()
        assert notice.content.startswith(
            f"This server has used its {spent + 1:,} tokens for today (UTC). Try again in "
        )
        stored = await stored_user_messages(h, h.general)
        assert stored[-3:] == ["and then?", "hello?", "anyone?"]
        await h.say(h.elsewhere, h.alice, f"<@{h.fake.bot_id}> hi")  # another server's budget
        assert len(h.llm.chat_requests) == 3
        await h.stop()
        await h.start()  # without the limit: catch-up leaves the refused messages unanswered
        assert len(h.llm.chat_requests) == 3
        assert h.replies_to(refused[1]) == []
