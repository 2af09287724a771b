"""Where the persona cannot post through a webhook, the bot posts as itself, as before.

Direct messages have no webhooks; without Manage Webhooks (or in a channel holding Discord's
15 webhooks, none of them ours to replace) the bot's own messages carry the persona, the
reason is logged once and `/session info` says it. Personas with their own picture share the
15 places of a channel: the one used least recently gives way.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.bot.discord_app.harness import Harness, embed_of, harness
from tests.fakes.discord_objects import Permission
from tests.helpers import write_persona

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path, webhooks=True) as running:
        personas = running.directory / "personas"
        for name in ("ana", "bea", "cyd"):
            (personas / f"{name}.png").write_bytes(PNG + name.encode())
            write_persona(
                personas, name, name=name.title(), situation="You are you.", avatar=f"{name}.png"
            )
        await running.start()
        yield running


def info_fields(record: object) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed_of(record)["fields"]}  # type: ignore[arg-type, index]


async def test_a_dm_is_answered_by_the_bot_itself(w: Harness) -> None:
    dm = w.fake.open_dm(w.alice)
    message = await w.say(dm, w.alice, "hello in private")
    assert w.reply_text(message) == "echo: Alice: hello in private"
    assert w.fake.webhooks.sent() == []
    record = await w.command("session info", channel=dm, user=w.alice)
    assert "direct messages have no webhooks" in info_fields(record)["Persona posts"]


async def test_without_manage_webhooks_the_bot_posts_and_says_why(
    w: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "bot.discord_app.webhooks")
    guild = w.fake.add_guild(
        "Strict Server", bot_permissions=Permission.BOT_DEFAULT & ~Permission.MANAGE_WEBHOOKS
    )
    lobby = w.fake.add_channel(guild, "lobby")
    w.fake.add_member(guild, w.alice)
    await w.settle()
    await w.say(lobby, w.alice, f"<@{w.fake.bot_id}> hi")
    message = await w.say(lobby, w.alice, "and again")
    assert w.reply_text(message) == "echo: Alice: and again"
    assert w.fake.webhooks.sent() == [] and w.fake.webhooks.in_channel(lobby) == []
    assert not w.fake.requests_to(None, "/channels/{channel}/webhooks")
    record = await w.command("session info", channel=lobby, user=w.alice)
    assert "Manage Webhooks" in info_fields(record)["Persona posts"]
    warnings = [r for r in caplog.records if "Manage Webhooks" in r.getMessage()]
    assert len(warnings) == 1  # logged once, not per message


async def test_a_channel_full_of_others_webhooks_gets_the_bots_own_messages(w: Harness) -> None:
    for number in range(15):
        w.fake.webhooks.add(w.random, f"feed {number}")
    message = await w.say(w.random, w.alice, f"<@{w.fake.bot_id}> hi")
    assert w.reply_text(message) == "echo: Alice: @sessionbot hi"
    assert len(w.fake.webhooks.in_channel(w.random)) == 15
    record = await w.command("session info", channel=w.random, user=w.alice)
    assert "15 webhooks" in info_fields(record)["Persona posts"]


async def test_personas_with_pictures_share_a_full_channel_the_least_used_giving_way(
    w: Harness,
) -> None:
    for number in range(13):
        w.fake.webhooks.add(w.general, f"feed {number}")
    threads = {}
    for name in ("ana", "bea", "cyd"):
        await w.command(
            "session start", {"persona": name, "thread": True}, channel=w.general, user=w.admin
        )
        [threads[name]] = [
            int(c["id"])
            for c in w.fake.world.guild(w.guild).threads.values()
            if int(c["id"]) not in threads.values()
        ]
    for name in ("ana", "bea", "ana", "cyd"):  # bea is the least recently used when cyd comes
        await w.say(threads[name], w.alice, f"hi {name}")
    hooks = w.fake.webhooks.in_channel(w.general)
    assert len(hooks) == 15
    ours = sorted(h.payload["name"].split()[2] for h in hooks if h.app_owned)
    assert ours == ["ana", "cyd"]
    cyd = w.fake.webhooks.sent(threads["cyd"])[-1]
    assert cyd.username == "Cyd" and cyd.content.endswith("echo: Alice: hi cyd")
