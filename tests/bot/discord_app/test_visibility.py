"""Who sees which thread's session in `/session list`, also once Discord archives the thread."""

from __future__ import annotations

from tests.bot.discord_app.harness import Harness, embed_of


async def listed(h: Harness, user: int) -> str:
    record = await h.command("session list", channel=h.general, user=user)
    return (
        str(embed_of(record)["description"]) if record.original and record.original.embeds else ""
    )


async def thread_session(h: Harness, *, private: bool) -> int:
    thread = await h.fake.create_thread(h.general, "plans", h.alice, private=private)
    await h.say(thread, h.alice, f"<@{h.fake.bot_id}> let's plan")
    assert await h.session_here(thread) is not None
    return thread


async def test_a_private_thread_session_shows_only_to_its_people_and_moderators(
    h: Harness,
) -> None:
    thread = await thread_session(h, private=True)
    await h.say(h.general, h.bob, f"<@{h.fake.bot_id}> hello")  # Bob's list is not empty
    assert f"<#{thread}>" not in await listed(h, h.bob)
    assert f"<#{thread}>" in await listed(h, h.alice)
    assert f"<#{thread}>" in await listed(h, h.admin)  # Manage Threads
    await h.fake.archive_thread(thread)
    await h.settle()
    assert h.running.get_channel(thread) is None  # judged without the cache now
    assert f"<#{thread}>" not in await listed(h, h.bob)
    assert f"<#{thread}>" in await listed(h, h.alice)
    assert f"<#{thread}>" in await listed(h, h.admin)


async def test_an_archived_public_thread_session_shows_to_whoever_sees_its_channel(
    h: Harness,
) -> None:
    thread = await thread_session(h, private=False)
    await h.fake.archive_thread(thread)
    await h.settle()
    assert h.running.get_channel(thread) is None
    assert f"<#{thread}>" in await listed(h, h.bob)
