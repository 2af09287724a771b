"""Stopping gracefully: no new messages, replies in flight get a grace period, then are cut.

On SIGTERM or Ctrl-C the bot stops taking messages (Discord keeps them; the next start catches
them up), lets the message being stored and the replies being written finish for up to
SESSIONBOT_SHUTDOWN_GRACE seconds, then cancels what is left. A reply cut short is never stored
(the engine stores a reply only when its stream ends); its Discord message is edited to show
the text so far, a note that it was cut off and a Retry button.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, cast

import discord

from bot.discord_app.split import MESSAGE_LIMIT, split_reply

if TYPE_CHECKING:
    from bot.discord_app.delivery import MessageSink
    from bot.discord_app.intake import Intake
    from bot.discord_app.streaming import StreamingReply

log = logging.getLogger(__name__)

CUT_OFF_NOTE = "-# ✂️ Cut off: I was restarting. Press Retry for a complete answer."
CUT_OFF_TIMEOUT = 3.0  # seconds for the edits that mark cut-off replies


async def shut_down(intake: Intake, grace: float) -> None:
    """Stop taking messages; give what runs `grace` seconds; then cancel it (cut-off marks)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    intake.stop_taking()
    if not await _within(intake.queues.join(), deadline - loop.time()):
        log.warning("stopping with a message not yet stored; Discord keeps it for catch-up")
    replies = intake.replies.queues
    replies.stop()  # replies not started yet: their messages are stored, answered at next start
    if not await _within(replies.join(), deadline - loop.time()):
        log.warning("replies still streaming after %g s; marking them cut off", grace)
    await intake.close()


async def _within(action: Awaitable[None], seconds: float) -> bool:
    """Await `action` for at most `seconds`; False if it did not finish in time."""
    try:
        await asyncio.wait_for(action, max(seconds, 0.0))
    except TimeoutError:
        return False
    return True


async def mark_cut_off(streaming: StreamingReply[discord.Message], view: discord.ui.View) -> None:
    """Show a reply cancelled mid-stream as cut off: its text so far, a note and Retry."""
    sink = cast("MessageSink", streaming.sink)
    try:
        async with asyncio.timeout(CUT_OFF_TIMEOUT):
            await streaming.close()  # no update may overwrite the note
            messages = streaming.messages
            if messages:
                content = _cut_text(streaming.text, len(messages), streaming.limit)
                await sink.edit(messages[-1], content, view=view)
            else:
                await sink.send(CUT_OFF_NOTE, reply=True, view=view)
    except (TimeoutError, discord.HTTPException, OSError) as exc:
        log.warning("could not mark a cut-off reply: %s", exc)


def _cut_text(text: str, shown: int, limit: int = MESSAGE_LIMIT) -> str:
    """The part of `text` the last of `shown` messages holds, then the cut-off note."""
    parts = split_reply(text, limit)
    last = parts[min(shown, len(parts)) - 1] if parts else ""
    room = limit - len(CUT_OFF_NOTE) - 3
    if len(last) > room:
        last = last[: room - 1] + "…"
    return f"{last}\n\n{CUT_OFF_NOTE}" if last else CUT_OFF_NOTE
