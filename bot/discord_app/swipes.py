"""Regenerate and swipe buttons under the newest reply: ↻, and ◀ n/N ▶ once there are more.

The buttons are persistent (`DynamicItem`s whose custom ids carry the stored reply's id and how
many Discord messages show it), so they work after a restart. They sit on the last part
of the newest reply of a session and move to the next reply when it is shown. A regeneration
streams the new text into the same messages (editing the parts, deleting extra ones, posting
more if it grew); a swipe shows another stored alternative there. Only the person the reply
answers (for a greeting: whoever started the session), or someone with Manage Threads, may
use them; anyone else is told so privately. Work on a conversation's replies runs on its reply
queue, so a regeneration never overlaps another reply of the same conversation.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

import discord

from bot.discord_app.delivery import DISCORD_FAILURES, DiscordSink, pushback
from bot.discord_app.places import conversation_key, place_name
from bot.discord_app.responses import NO_MENTIONS, refuse, report_error
from bot.discord_app.serial import SerialQueues
from bot.discord_app.split import MESSAGE_LIMIT, split_reply
from bot.discord_app.streaming import FINAL_RETRIES, StreamingReply
from bot.discord_app.swipe_buttons import clear_view, set_view, swipe_view
from bot.discord_app.voices import WebhookSink
from bot.discord_app.webhooks import Hooks
from bot.engine import Engine
from bot.engine.errors import DOMAIN_ERRORS, SessionbotError
from bot.engine.regenerate import (
    NotRegenerable,
    Regeneration,
    Swipe,
    choose,
    newest_reply,
    swipe_state,
)
from storage import Message, Session, SessionStatus

if TYPE_CHECKING:
    from discord.abc import MessageableChannel

log = logging.getLogger(__name__)

NOT_YOURS: Final = (
    "Only the person this reply answers, or someone with Manage Threads, can regenerate or "
    "swipe it."
)
REMEMBERED: Final = 10_000  # sessions whose buttons are remembered (to move them on)
PARTS_LOOKED_AT: Final = 50  # messages read to find the earlier parts of a split reply

Sink = DiscordSink | WebhookSink
Notify = Callable[[str], Awaitable[object]]


@dataclass(frozen=True)
class Shown:
    """The newest reply of a session with buttons: its stored id and where its Discord messages
    are (ids, not message objects: thousands of sessions are remembered, and a message object
    with the one it answers costs dozens of Python objects each)."""

    reply_id: int
    channel: MessageableChannel
    ids: tuple[int, ...]
    webhook_id: int | None

    @classmethod
    def of(cls, reply_id: int, messages: Sequence[discord.Message]) -> Shown:
        last = messages[-1]
        return cls(reply_id, last.channel, tuple(m.id for m in messages), last.webhook_id)

    @property
    def last(self) -> int:
        return self.ids[-1]

    async def messages(self) -> list[discord.Message]:
        """The reply's Discord messages, read again (for a regeneration, which edits them)."""
        return [await self.channel.fetch_message(message_id) for message_id in self.ids]


class Swipes:
    """The buttons of every session's newest reply; one instance per bot."""

    def __init__(
        self,
        *,
        engine: Engine,
        hooks: Hooks,
        queues: SerialQueues,
        edit_interval: float,
        regenerate_on_edit: bool = True,
    ) -> None:
        self.engine = engine
        self.hooks = hooks
        self.queues = queues
        self.edit_interval = edit_interval
        self.regenerate_on_edit = regenerate_on_edit
        self._shown: dict[UUID, Shown] = {}

    def newest(self, reply: Message | None, text: str, limit: int) -> discord.ui.View | None:
        """The buttons of a reply just stored, for the last of its parts as `text` is shown
        (parts of `limit` characters); `shown` moves them there once it is."""
        if reply is None:
            return None
        # A reply just written has no alternatives yet: 1 of 1, nothing to look up.
        return swipe_view(reply.id, len(split_reply(text, limit)), Swipe(reply, 0, 1))

    async def shown(
        self,
        session_id: UUID,
        reply: Message | None,
        view: discord.ui.View | None,
        messages: Sequence[discord.Message],
    ) -> None:
        """A new reply is on screen: take the buttons from the reply before it (after, so that
        the new reply is not kept waiting for the edit of the old one)."""
        if reply is not None:
            await self._retire(session_id, reply.id, messages)
        self._remember(session_id, reply, view, messages)

    async def view_for(self, reply: Message, parts: int) -> discord.ui.View | None:
        """The buttons of a reply shown in `parts` messages (None: it gets none)."""
        try:
            state = await swipe_state(self.engine, reply)
        except DOMAIN_ERRORS as exc:  # the reply is shown; only its buttons are missing
            log.warning("no buttons under a reply in session %s: %s", reply.session_id, exc)
            return None
        return swipe_view(reply.id, parts, state)

    async def offer(
        self, session_id: UUID, reply: Message, messages: Sequence[discord.Message]
    ) -> None:
        """Put the buttons under a reply posted without them (a greeting)."""
        view = await self.view_for(reply, len(messages)) if messages else None
        if view is not None:
            await _quietly(set_view(self.hooks, messages[-1], view))
        await self.shown(session_id, reply, view, messages)

    def _remember(
        self,
        session_id: UUID,
        reply: Message | None,
        view: discord.ui.View | None,
        messages: Sequence[discord.Message],
    ) -> None:
        """Where the buttons of the session's newest reply are now (to move them on later)."""
        self._shown.pop(session_id, None)
        if reply is None or view is None or not messages:
            return
        if len(self._shown) >= REMEMBERED:
            self._shown.pop(next(iter(self._shown)))
        self._shown[session_id] = Shown.of(reply.id, messages)

    async def _retire(
        self, session_id: UUID, reply_id: int, messages: Sequence[discord.Message]
    ) -> None:
        """Take the buttons from where they were, unless `messages` (of reply `reply_id`) are
        their place now or the message is gone."""
        previous = self._shown.get(session_id)
        if previous is not None and _still_there(previous, reply_id, messages):
            self._shown.pop(session_id, None)
            await _quietly(clear_view(self.hooks, previous))

    # Clicks ---------------------------------------------------------------------------------

    async def clicked(
        self, interaction: discord.Interaction[Any], op: str, reply_id: int, parts: int
    ) -> None:
        """↻, ◀ or ▶ pressed: check who and what, acknowledge, then queue the work."""
        here = conversation_key(interaction.guild_id, interaction.channel_id or 0)
        clicked = interaction.message
        channel = interaction.channel
        try:
            session = await self.engine.active_session(here)
            if session is None:
                raise NotRegenerable()
            reply = await newest_reply(self.engine, session.id, reply_id)
            if not await self._may(interaction, session, reply):
                await refuse(interaction, NOT_YOURS)
                return
        except NotRegenerable as exc:
            await refuse(interaction, str(exc))
            if clicked is not None:
                await _quietly(set_view(self.hooks, clicked, None))
            return
        except DOMAIN_ERRORS as exc:
            await report_error(interaction, exc, what="regenerate")
            return
        if clicked is None or not isinstance(channel, discord.abc.Messageable):
            return
        await interaction.response.defer()
        notify = partial(_private, interaction)
        work = partial(self._run, op, session, reply, clicked, parts, channel, notify)
        self.queues.submit(session.binding_key or str(session.id), work)

    async def _may(
        self, interaction: discord.Interaction[Any], session: Session, reply: Message
    ) -> bool:
        if interaction.permissions.manage_threads:
            return True
        who = str(interaction.user.id)
        if reply.reply_to is None:  # a greeting: whoever started the session
            return session.user_id == who
        answered = await self.engine.stored_message(session.id, reply.reply_to)
        return answered is not None and answered.author_id == who

    async def _run(
        self,
        op: str,
        session: Session,
        reply: Message,
        clicked: discord.Message,
        count: int,
        channel: discord.abc.Messageable,
        notify: Notify,
    ) -> None:
        parts = await self._parts(clicked, count)
        if op == "regen":
            await self.regenerate(session, reply, parts, channel, notify)
            return
        try:
            swipe = await choose(self.engine, session.id, reply.id, 1 if op == "next" else -1)
        except DOMAIN_ERRORS as exc:
            await self._stale(parts, exc)
            await _quietly(notify(_sentence(exc)))
            return
        sink = await self._sink(session, reply, parts[0])
        streaming = self._streaming(sink, parts)
        try:
            await self._finish(streaming, swipe.reply)
        except DISCORD_FAILURES as exc:
            log.warning("Discord refused to show another alternative of a reply: %s", exc)
        finally:
            await streaming.close()

    async def _parts(self, clicked: discord.Message, count: int) -> list[discord.Message]:
        """The `count` messages of a reply, the clicked (last) one and those by the same author
        just before it (the replies of a conversation never interleave)."""
        if count <= 1:
            return [clicked]
        remembered = next((s for s in self._shown.values() if s.last == clicked.id), None)
        if remembered is not None:
            return [*(await remembered.messages())[:-1], clicked]
        earlier = [
            message
            async for message in clicked.channel.history(before=clicked, limit=PARTS_LOOKED_AT)
            if message.webhook_id == clicked.webhook_id
            and (clicked.webhook_id is not None or message.author.id == clicked.author.id)
        ][: count - 1]
        return [*sorted(earlier, key=lambda message: message.id), clicked]

    async def _sink(self, session: Session, reply: Message, first: discord.Message) -> Sink:
        """Where the reply's messages are: its persona's webhook, or the bot's own messages."""
        if first.webhook_id is not None:
            # The persona that wrote the reply (a session may have several).
            voice = await self.hooks.voice(
                first.channel, self.engine.find_persona(reply.author_id or session.agent_id)
            )
            if voice is not None:
                answered = None
                if reply.reply_to is not None:
                    answered = await self.engine.stored_message(session.id, reply.reply_to)
                return WebhookSink(voice, self.hooks, answered.author_name if answered else None)
        return DiscordSink(first.channel, None)

    def _streaming(
        self, sink: Sink, parts: Sequence[discord.Message]
    ) -> StreamingReply[discord.Message]:
        header = len(sink.header) if isinstance(sink, WebhookSink) else 0
        streaming = StreamingReply(
            sink,
            interval=self.edit_interval,
            pushback=pushback,
            retries=FINAL_RETRIES,
            limit=MESSAGE_LIMIT - header,
        )
        streaming.resume(parts)
        return streaming

    async def _finish(self, streaming: StreamingReply[discord.Message], reply: Message) -> None:
        """Show `reply`'s text whole, its buttons with the last part, and move them there."""
        parts = len(split_reply(reply.content, streaming.limit))
        view = await self.view_for(reply, parts)
        messages = await streaming.finish(reply.content, view=view)
        await self.shown(reply.session_id, reply, view, messages)

    async def regenerate(
        self,
        session: Session,
        reply: Message,
        parts: Sequence[discord.Message],
        channel: discord.abc.Messageable,
        notify: Notify | None = None,
    ) -> None:
        """Ask the model again and stream the new text into the reply's messages; if that
        fails, show the chosen text again (and tell whoever asked, privately)."""
        sink = await self._sink(session, reply, parts[0])
        streaming = self._streaming(sink, parts)
        turn = Regeneration(self.engine, session.id, reply.id, place=place_name(channel))
        try:
            async with aclosing(turn.stream()) as stream:
                async for delta in stream:
                    await streaming.add(delta)
            assert turn.swipe is not None
            await self._finish(streaming, turn.swipe.reply)
        except DOMAIN_ERRORS as exc:
            log.warning("regenerating a reply in session %s failed: %s", session.id, exc)
            if isinstance(exc, NotRegenerable):  # a newer reply came first: nothing was shown
                await self._stale(parts, exc)
            else:
                await self._restore(streaming, reply)
            if notify is not None:
                await _quietly(notify(_sentence(exc)))
        except DISCORD_FAILURES as exc:
            log.warning("Discord failed while regenerating a reply: %s", exc)
        finally:
            await streaming.close()

    async def _stale(self, parts: Sequence[discord.Message], error: Exception) -> None:
        """A reply that stopped being the newest while the click waited loses its buttons."""
        if isinstance(error, NotRegenerable):
            await _quietly(set_view(self.hooks, parts[-1], None))

    async def _restore(self, streaming: StreamingReply[discord.Message], reply: Message) -> None:
        try:
            await self._finish(streaming, reply)
        except DISCORD_FAILURES as exc:
            log.warning("could not show a reply's text again after a failed regeneration: %s", exc)

    # Edits ----------------------------------------------------------------------------------

    async def edited(self, session_ids: Sequence[UUID], message: discord.Message) -> None:
        """A stored message was edited: if the newest reply answers it, regenerate that reply."""
        if not self.regenerate_on_edit:
            return
        for session_id in session_ids:
            shown = self._shown.get(session_id)
            if shown is None:
                continue
            try:
                session = await self.engine.session(session_id)
                if session.status is not SessionStatus.ACTIVE:
                    continue
                reply = await newest_reply(self.engine, session_id, shown.reply_id)
                answered = None
                if reply.reply_to is not None:
                    answered = await self.engine.stored_message(session_id, reply.reply_to)
            except DOMAIN_ERRORS as exc:
                log.debug("no regeneration after an edit in session %s: %s", session_id, exc)
                continue
            if answered is None or answered.external_id != str(message.id):
                continue
            work = partial(self._regenerate_shown, session, reply, shown, message.channel)
            self.queues.submit(session.binding_key or str(session.id), work)

    async def _regenerate_shown(
        self, session: Session, reply: Message, shown: Shown, channel: discord.abc.Messageable
    ) -> None:
        try:
            parts = await shown.messages()
        except DISCORD_FAILURES as exc:  # deleted, or Discord failing: nothing to edit
            log.warning("the reply to regenerate after an edit could not be read: %s", exc)
            return
        await self.regenerate(session, reply, parts, channel)


def _still_there(previous: Shown, reply_id: int, messages: Sequence[discord.Message]) -> bool:
    """True if the message that had the buttons is still there but no longer their place (a
    reply shown again in fewer messages has deleted its old last part)."""
    last = previous.last
    if messages and last == messages[-1].id:
        return False
    return last in {message.id for message in messages} or previous.reply_id != reply_id


def _sentence(error: BaseException) -> str:
    return error.public_message if isinstance(error, SessionbotError) else str(error)


async def _private(interaction: discord.Interaction[Any], sentence: str) -> None:
    await interaction.followup.send(f"⚠️ {sentence}", ephemeral=True, allowed_mentions=NO_MENTIONS)


async def _quietly(action: Awaitable[Any]) -> None:
    try:
        await action
    except DISCORD_FAILURES as exc:
        log.warning("Discord refused or missed a change of a reply's buttons: %s", exc)
