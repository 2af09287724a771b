"""Half-written replies: each reply records where its parts went while it streams, so a
process that dies mid-reply leaves a note for whoever answers the message next.

The draft is kept in the store from a reply's first message until the reply is shown whole or
its failure line is. Whoever answers the message next (catch-up after a restart, another
process during a rolling restart, a Retry) holds the session and then puts the stub right:
when the reply was stored before the process died, the stub is edited into it; when it was
not, the stub is deleted before the fresh answer. So no stub is ever left beside an answer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

import aiohttp
import discord

from bot.discord_app.delivery import DiscordSink
from bot.discord_app.responses import NO_MENTIONS
from bot.discord_app.split import MESSAGE_LIMIT, split_reply
from bot.discord_app.voices import WebhookSink, quiet_line
from bot.engine import Engine
from bot.engine.errors import DOMAIN_ERRORS
from storage import Message
from storage.drafts import ReplyDraft

log = logging.getLogger(__name__)

BOT_TARGET = "bot"  # a draft posted as the bot itself; a webhook's is "webhook:<id>"
_MISSED = (discord.HTTPException, aiohttp.ClientError, OSError)

Sink = DiscordSink | WebhookSink
Recorder = Callable[[Sequence[discord.Message]], Awaitable[None]]


def target_of(message: discord.Message) -> str:
    return f"webhook:{message.webhook_id}" if message.webhook_id else BOT_TARGET


class Drafts:
    """Records the drafts of replies and puts right those a dead process left."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def recorder(self, session_id: UUID, message_id: int) -> Recorder:
        """What a streaming reply calls with its messages each time it sends one more."""

        async def record(messages: Sequence[discord.Message]) -> None:
            if not messages:
                return
            try:
                await self.engine.drafts.note(
                    session_id,
                    message_id,
                    target=target_of(messages[0]),
                    posted=[str(message.id) for message in messages],
                )
            except DOMAIN_ERRORS as exc:  # the reply goes on; only its note is missing
                log.warning("could not note the draft of a reply in %s: %s", session_id, exc)

        return record

    async def done(self, session_id: UUID, message_id: int) -> None:
        """The reply to `message_id` is shown whole, or its failure is: forget its draft."""
        try:
            await self.engine.drafts.clear(session_id, message_id)
        except DOMAIN_ERRORS as exc:
            log.warning("could not clear the draft of a reply in %s: %s", session_id, exc)

    async def put_right(
        self,
        session_id: UUID,
        sink_for: Callable[[], Awaitable[Sink]],
        drafts: Sequence[ReplyDraft] | None = None,
    ) -> None:
        """Put right every reply of the session that a process which died left half-shown:
        edit the stub into the stored reply, or delete it (before a fresh answer). Call while
        holding the session, so every draft there is a dead process's (`drafts`: the
        session's drafts, read already while holding it, e.g. by `Turn.prepare`)."""
        if drafts is None:
            drafts = await self.engine.drafts.of_session(session_id)
        if not drafts:
            return
        sink = await sink_for()
        for draft in drafts:
            reply = await self.engine.drafts.stored_reply(session_id, draft.message_id)
            log.info(
                "putting right a half-written reply to message %s of session %s (%s)",
                draft.message_id,
                session_id,
                "edited into the stored reply" if reply is not None else "deleted",
            )
            try:
                await self._put_right(draft, sink, reply)
            except discord.NotFound:
                log.info("a half-written reply was deleted already")
            except _MISSED as exc:
                log.warning("could not put right a half-written reply: %s", exc)
            await self.done(session_id, draft.message_id)

    async def _put_right(self, draft: ReplyDraft, sink: Sink, reply: Message | None) -> None:
        header = ""
        if isinstance(sink, WebhookSink) and reply is not None:
            answering = await self.engine.stored_message(draft.session_id, draft.message_id)
            header = quiet_line(answering.author_name if answering else None)
        parts = split_reply(reply.content, MESSAGE_LIMIT - len(header)) if reply else []
        ids = [int(posted) for posted in draft.posted]
        for index, message_id in enumerate(ids):
            if index < len(parts):
                text = header + parts[index] if index == 0 else parts[index]
                await self._edit(sink, draft.target, message_id, text)
            else:
                await self._delete(sink, draft.target, message_id)
        for index in range(len(ids), len(parts)):
            await sink.send(parts[index], reply=False)

    async def _edit(self, sink: Sink, target: str, message_id: int, text: str) -> None:
        hook, extra = _hook(sink, target)
        if hook is not None:
            await hook.edit_message(message_id, content=text, allowed_mentions=NO_MENTIONS, **extra)
        else:
            await _partial(sink, message_id).edit(content=text, allowed_mentions=NO_MENTIONS)

    async def _delete(self, sink: Sink, target: str, message_id: int) -> None:
        hook, extra = _hook(sink, target)
        if hook is not None:
            await hook.delete_message(message_id, **extra)
        else:
            await _partial(sink, message_id).delete()


def _hook(sink: Sink, target: str) -> tuple[discord.Webhook | None, dict[str, Any]]:
    """The webhook that posted a draft (known again once the sink's voice was found)."""
    if target == BOT_TARGET or isinstance(sink, DiscordSink):
        return None, {}
    hook = sink.hooks.known(int(target.removeprefix("webhook:")))
    if hook is None:
        return None, {}
    thread = sink.voice.thread
    return hook, ({"thread": thread} if thread is not None else {})


def _partial(sink: Sink, message_id: int) -> discord.PartialMessage:
    channel: Any = sink.channel if isinstance(sink, DiscordSink) else sink.voice.where
    partial: discord.PartialMessage = channel.get_partial_message(message_id)
    return partial
