"""`sessionbot run` stopped by SIGTERM while a reply streams: it exits within the grace (plus a
few seconds), the message is stored, and the reply is either complete or visibly cut off with
Retry, never stored half-written."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from bot.discord_app.shutdown import CUT_OFF_NOTE
from storage import ListQuery, Role, SessionStore
from tests.bot.services.test_run import TOKEN, connected, general_and_alice, sessionbot_run
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

STORY = " ".join(f"word{i}" for i in range(80))


async def test_sigterm_mid_stream_exits_within_the_grace_and_marks_the_reply_cut_off(
    tmp_path: Path,
) -> None:
    async with FakeDiscord(token=TOKEN) as fake, FakeOpenAI(chunk_delay=0.25) as llm:
        general, alice = general_and_alice(fake)
        llm.queue_reply(STORY)
        env = connected(tmp_path, fake, llm, SESSIONBOT_SHUTDOWN_GRACE="1")
        process = await sessionbot_run(env, tmp_path)
        try:
            await fake.wait_ready(timeout=30)
            await fake.send_message(general, alice, f"<@{fake.bot_id}> tell me a story")
            await fake.wait_until(lambda: bool(fake.webhooks.sent(general)), timeout=20)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=15)
        assert process.returncode == 0, stderr.decode()
        assert stderr.decode().splitlines()[-1] == "stopped"
        [reply] = fake.webhooks.sent(general)  # the persona's, through a webhook by default
    async with SessionStore.open(tmp_path / "sessionbot.db") as store:
        [session] = (await store.list_sessions(ListQuery())).items
        history = await store.recent_history(session.id, limit=10)
    assert history[0].role is Role.USER and history[0].external_id is not None
    quiet_line = "-# ↪ Alice\n"
    if reply.content == quiet_line + STORY:  # finished within the grace: stored whole
        assert [m.content for m in history[1:]] == [STORY]
    else:
        assert reply.content.startswith(quiet_line + "word0")
        assert reply.content.endswith(CUT_OFF_NOTE)
        assert reply.custom_ids()[0].startswith("sessionbot:retry:")
        assert len(history) == 1  # the half reply is not stored
