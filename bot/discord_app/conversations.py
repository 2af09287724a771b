"""Messages in, replies out: which messages start or continue a session, and how replies stream.

Routing (issue 4): in a channel, thread or DM with an active session every message from a
person is answered; in a server channel without one, a message that mentions the bot starts a
session with the default persona; in DMs (unless SESSIONBOT_ALLOW_DMS is off) the first message
starts one. Bots, the bot itself included, are never answered.

Every message becomes a job on its conversation's intake queue (store it, in arrival order),
which queues the reply on the conversation's reply queue; the gateway handler returns at once.
Edits and deletions go through the same intake queue, so they never overtake the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import aclosing
from dataclasses import dataclass
from functools import partial
from typing import Any
from uuid import UUID

import aiohttp
import discord

from bot.discord_app.attachments import message_text
from bot.discord_app.errors import NothingToRetry, SessionIsOver
from bot.discord_app.keys import Place, conversation_key, place_name, place_of, session_metadata
from bot.discord_app.responses import APOLOGY, NO_MENTIONS, report_error
from bot.discord_app.serial import SerialQueues
from bot.discord_app.split import split_reply
from bot.discord_app.streaming import EDIT_INTERVAL, StreamingReply
from bot.discord_app.views import retry_view
from bot.engine import Engine, Incoming, Turn
from bot.engine.errors import SessionbotError
from bot.engine.tokens import message_tokens
from storage import Message, Role, Session, SessionStatus
from storage.errors import BindingConflict, SessionEnded, StorageError

log = logging.getLogger(__name__)

CLOSE_GRACE = 5.0  # seconds to finish storing arrived messages at shutdown
WARNED_LIMIT = 10_000  # sessions remembered as told that older messages left the context
TYPING_DELAY = 0.25  # no typing indicator for replies that start faster than this (seconds)
ANSWERED_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})


class DiscordSink:
    """A `ReplySink` of Discord messages; the first part replies to the user's message."""

    def __init__(
        self, channel: discord.abc.Messageable, reference: discord.MessageReference | None
    ) -> None:
        self.channel = channel
        self.reference = reference

    async def send(self, content: str, *, reply: bool) -> discord.Message:
        if reply and self.reference is not None:
            return await self.channel.send(
                content, reference=self.reference, allowed_mentions=NO_MENTIONS
            )
        return await self.channel.send(content, allowed_mentions=NO_MENTIONS)

    async def edit(self, message: discord.Message, content: str) -> None:
        await message.edit(content=content, allowed_mentions=NO_MENTIONS)

    async def delete(self, message: discord.Message) -> None:
        await message.delete()


@dataclass(frozen=True)
class ReplyJob:
    """One reply to produce: the stored message it answers and where to show it."""

    session_id: UUID
    stored: Message
    channel: discord.abc.Messageable
    place: str
    reference: discord.MessageReference | None
    error_message: discord.Message | None = None  # a failed attempt's message, when retrying


def reference_to(
    message_id: int, channel_id: int, guild_id: int | None
) -> discord.MessageReference:
    return discord.MessageReference(
        message_id=message_id, channel_id=channel_id, guild_id=guild_id, fail_if_not_exists=False
    )


def mentions_me(message: discord.Message, me: discord.abc.User) -> bool:
    """True if the message mentions the bot, or the bot's own role (not @everyone)."""
    if any(user.id == me.id for user in message.mentions):
        return True
    return any(
        role.tags is not None and role.tags.bot_id == me.id for role in message.role_mentions
    )


class Conversations:
    """The bot's message handling; one instance per bot, closed with it."""

    def __init__(
        self,
        *,
        engine: Engine,
        allow_dms: bool,
        typing_delay: float = TYPING_DELAY,
        edit_interval: float = EDIT_INTERVAL,
    ) -> None:
        self.engine = engine
        self.store = engine.store
        self.allow_dms = allow_dms
        self.typing_delay = typing_delay
        self.edit_interval = edit_interval
        self.intake = SerialQueues("intake")
        self.replies = SerialQueues("replies")
        self._warned: set[UUID] = set()  # sessions told that older messages left the context

    # Gateway events (synchronous: they only queue work) -----------------------------------

    def receive(self, message: discord.Message, me: discord.abc.User) -> None:
        """Queue a new message for intake if the bot may answer it."""
        if message.author.bot or message.type not in ANSWERED_TYPES:
            return
        if message.guild is None and not self.allow_dms:
            return
        place = place_of(message.channel, message.guild.id if message.guild else None)
        self.intake.submit(place.key, partial(self._take, message, place, me))

    def edited(self, payload: discord.RawMessageUpdateEvent) -> None:
        message = payload.message
        if message.author.bot or (payload.guild_id is None and not self.allow_dms):
            return
        if _same_text(payload.cached_message, message):  # an unfurl or a pin, not an edit
            return
        key = conversation_key(payload.guild_id, payload.channel_id)
        self.intake.submit(key, partial(self._edit, key, message))

    def deleted(self, guild_id: int | None, channel_id: int, message_ids: set[int]) -> None:
        key = conversation_key(guild_id, channel_id)
        self.intake.submit(key, partial(self._delete, key, message_ids))

    async def join(self) -> None:
        """Wait until every queued message is stored and answered."""
        while len(self.intake) or len(self.replies):
            await self.intake.join()
            await self.replies.join()

    async def close(self) -> None:
        """Store what has arrived (for a few seconds at most), then stop both queues."""
        try:
            await asyncio.wait_for(self.intake.join(), CLOSE_GRACE)
        except TimeoutError:
            log.warning("closing with messages not yet stored; Discord still has them")
        await self.intake.close()
        await self.replies.close()

    # Intake ------------------------------------------------------------------------------

    async def _take(self, message: discord.Message, place: Place, me: discord.abc.User) -> None:
        session = await self.store.active_session(place.key)
        if session is None:
            if not place.is_dm and not mentions_me(message, me):
                return
            session = await self._auto_start(message, place)
            if session is None:
                return
        content = await message_text(message.clean_content, message.attachments)
        if not content.strip():
            return
        incoming = Incoming(
            content=content,
            author_name=message.author.display_name,
            author_id=str(message.author.id),
            external_id=str(message.id),
        )
        try:
            stored = await self.engine.submit(session.id, incoming)
        except SessionEnded:
            log.debug("session %s ended before message %s was stored", session.id, message.id)
            return
        job = ReplyJob(
            session_id=session.id,
            stored=stored,
            channel=message.channel,
            place=place_name(message.channel),
            reference=reference_to(message.id, place.channel_id, place.guild_id),
        )
        self.replies.submit(place.key, partial(self._reply, job))

    async def _auto_start(self, message: discord.Message, place: Place) -> Session | None:
        """Start a session with the default persona; post its greeting."""
        try:
            started = await self.engine.start_session(
                binding_key=place.key,
                user_id=str(message.author.id),
                metadata=session_metadata(place, message.author),
            )
        except BindingConflict:  # a /session start got there first
            return await self.store.active_session(place.key)
        except SessionbotError as exc:
            await self._say(message.channel, f"⚠️ {exc}", reference=message.to_reference())
            return None
        if started.greeting is not None:  # best effort: the message must be stored regardless
            await _quietly(self._say(message.channel, started.greeting.content))
        return started.session

    async def _edit(self, key: str, message: discord.Message) -> None:
        """Update the stored copy, in whichever session here holds it (ended ones too)."""
        holders = await self.store.sessions_holding(key, str(message.id))
        if not holders:
            return
        content = await message_text(message.clean_content, message.attachments)
        for session_id in holders:
            await self.store.edit_message(
                session_id, str(message.id), content, message_tokens(content)
            )
            log.debug("message %s of session %s edited", message.id, session_id)

    async def _delete(self, key: str, message_ids: set[int]) -> None:
        """Delete the stored copies, in whichever sessions here hold them (ended ones too)."""
        for message_id in sorted(message_ids):
            for session_id in await self.store.sessions_holding(key, str(message_id)):
                await self.store.delete_message(session_id, str(message_id))
                log.debug("message %s of session %s deleted", message_id, session_id)

    # Replies -----------------------------------------------------------------------------

    async def _reply(self, job: ReplyJob) -> None:
        turn = self.engine.respond(job.session_id, job.stored, place=job.place)
        sink = DiscordSink(job.channel, job.reference)
        streaming = StreamingReply(sink, interval=self.edit_interval)
        typing = asyncio.create_task(self._typing(job.channel))
        try:
            async with aclosing(turn.stream()) as stream:
                async for delta in stream:
                    typing.cancel()
                    await streaming.add(delta)
            await streaming.finish(self._final_text(turn, streaming.text))
        except (SessionbotError, StorageError) as exc:
            log.info("reply in session %s failed: %s", job.session_id, exc)
            retry = not isinstance(exc, StorageError)
            await self._failed(job, streaming, str(exc), retry=retry)
            return
        except Exception:
            if turn.reply is not None:  # stored, but Discord refused to show it: show it again
                log.warning(
                    "showing the reply in session %s failed; posting it anew", job.session_id
                )
                await _quietly(streaming.discard())
                await _quietly(self._say(job.channel, turn.reply.content, reference=job.reference))
                return
            log.exception("reply in session %s failed unexpectedly", job.session_id)
            await self._failed(job, streaming, APOLOGY, retry=True)
            return
        finally:
            await streaming.close()
            typing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await typing
        if job.error_message is not None:
            await _quietly(job.error_message.delete())

    def _final_text(self, turn: Turn, streamed: str) -> str:
        text = turn.reply.content if turn.reply is not None else streamed
        context = turn.context
        if context is not None and context.omitted and turn.session_id not in self._warned:
            if len(self._warned) >= WARNED_LIMIT:
                self._warned.clear()  # at worst a session is told twice
            self._warned.add(turn.session_id)
            text += (
                f"\n\n-# Only the last {len(context.history)} messages of this conversation "
                "fit in my context now."
            )
        return text

    async def _failed(
        self,
        job: ReplyJob,
        streaming: StreamingReply[discord.Message],
        sentence: str,
        *,
        retry: bool,
    ) -> None:
        """Replace a half-shown reply with a short error (and a Retry button)."""
        await _quietly(streaming.discard())
        content = f"⚠️ {sentence}"
        view = retry_view(job.session_id, job.stored.id) if retry else None
        if job.error_message is not None:
            await _quietly(job.error_message.edit(content=content, view=view))
        elif view is not None:
            await _quietly(self._say(job.channel, content, reference=job.reference, view=view))
        else:
            await _quietly(self._say(job.channel, content, reference=job.reference))

    async def _typing(self, channel: discord.abc.Messageable) -> None:
        await asyncio.sleep(self.typing_delay)
        try:
            async with channel.typing():
                await asyncio.Event().wait()
        except discord.HTTPException as exc:
            log.debug("typing indicator failed: %s", exc)

    async def _say(
        self,
        channel: discord.abc.Messageable,
        text: str,
        *,
        reference: discord.MessageReference | None = None,
        **kwargs: Any,
    ) -> None:
        """Post text (split if long) that no mention inside can ping."""
        for index, part in enumerate(split_reply(text)):
            if index == 0 and reference is not None:
                kwargs["reference"] = reference
            else:
                kwargs.pop("reference", None)
            await channel.send(part, allowed_mentions=NO_MENTIONS, **kwargs)

    # Retry button ------------------------------------------------------------------------

    async def retry(
        self, interaction: discord.Interaction[Any], session_id: UUID, message_id: int
    ) -> None:
        """Answer a stored message again (the Retry button of a failed reply)."""
        here = conversation_key(interaction.guild_id, interaction.channel_id or 0)
        try:
            session = await self.store.get_session(session_id)
            if session.status is SessionStatus.ENDED:
                raise SessionIsOver()
            if session.binding_key != here:  # a button only ever answers in its own channel
                raise NothingToRetry()
            stored = await self._stored(session_id, message_id)
        except (SessionbotError, StorageError) as exc:
            await report_error(interaction, exc, what="retry")
            return
        await interaction.response.edit_message(content="⏳ Retrying…", view=None)
        channel = interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            return
        reference = None
        if stored.external_id and stored.external_id.isdigit():
            reference = reference_to(
                int(stored.external_id), interaction.channel_id or 0, interaction.guild_id
            )
        job = ReplyJob(
            session_id=session.id,
            stored=stored,
            channel=channel,
            place=place_name(channel),
            reference=reference,
            error_message=interaction.message,
        )
        key = session.binding_key or str(session.id)
        self.replies.submit(key, partial(self._reply, job))

    async def _stored(self, session_id: UUID, message_id: int) -> Message:
        found = await self.store.recent_history(
            session_id, limit=1, after=message_id - 1, before=message_id + 1
        )
        if not found or found[0].role is not Role.USER:
            raise NothingToRetry()
        return found[0]


async def _quietly(action: Any) -> None:
    """Await a best-effort Discord call; a failure is logged, not raised."""
    try:
        await action
    except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
        log.warning("Discord refused or missed a follow-up action: %s", exc)


def _same_text(before: discord.Message | None, after: discord.Message) -> bool:
    """True if an update left the text and attachments as they were."""
    if before is None:
        return False
    return before.content == after.content and [a.id for a in before.attachments] == [
        a.id for a in after.attachments
    ]
