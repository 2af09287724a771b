"""Replies out: stream the model's answer into Discord messages, split long ones, offer Retry.

Replies of one conversation run one at a time on its reply queue, in the order the messages
were stored; different conversations are answered concurrently. A failed reply is replaced by
one line with a Retry button that answers the stored message again.

Discord failing is survived (see `delivery`): a streamed reply slows its edits while Discord
pushes back, its final text is shown again after a failure that passes, and a create is never
repeated blindly. If Discord stays down, the reply's failure line with Retry is shown in the
background once Discord answers again (or logged, if it never does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from contextlib import aclosing
from dataclasses import dataclass
from functools import partial
from typing import Any
from uuid import UUID

import aiohttp
import discord

from bot.discord_app.casting import NamedSink, bot_sink
from bot.discord_app.delivery import (
    DISCORD_FAILED,
    DISCORD_FAILURES,
    NOTICE_RETRIES,
    DiscordSink,
    Later,
    Notice,
    pushback,
)
from bot.discord_app.drafts import Drafts
from bot.discord_app.errors import AlreadyAnswered, NothingToRetry, SessionIsOver
from bot.discord_app.places import conversation_key, place_name
from bot.discord_app.responses import APOLOGY, NO_MENTIONS, report_error
from bot.discord_app.serial import SerialQueues
from bot.discord_app.shutdown import mark_cut_off
from bot.discord_app.split import MESSAGE_LIMIT, split_reply
from bot.discord_app.streaming import EDIT_INTERVAL, FINAL_RETRIES, StreamingReply, persist
from bot.discord_app.swipes import Swipes
from bot.discord_app.views import retry_view
from bot.discord_app.voices import Voice, WebhookSink
from bot.discord_app.webhooks import Hooks
from bot.engine import Engine, Turn
from bot.engine.errors import DOMAIN_ERRORS, SessionbotError
from storage import Message, Role, SessionStatus
from storage.errors import AnsweredMessageGone

log = logging.getLogger(__name__)

WARNED_LIMIT = 10_000  # sessions remembered as told that older messages left the context
TYPING_DELAY = 0.25  # no typing indicator for replies that start faster than this (seconds)


@dataclass(frozen=True)
class ReplyJob:
    """One reply to produce: the stored message it answers and where to show it."""

    session_id: UUID
    stored: Message
    channel: discord.abc.Messageable
    place: str
    reference: discord.MessageReference | None
    error_message: discord.Message | None = None  # a failed attempt's message, when retrying
    persona: str | None = None  # the answering persona's id: whose name and avatar the reply shows


def reference_to(
    message_id: int, channel_id: int, guild_id: int | None
) -> discord.MessageReference:
    return discord.MessageReference(
        message_id=message_id, channel_id=channel_id, guild_id=guild_id, fail_if_not_exists=False
    )


class Replies:
    """The reply queue of every conversation; one instance per bot, closed with it."""

    def __init__(
        self,
        *,
        engine: Engine,
        typing_delay: float = TYPING_DELAY,
        edit_interval: float = EDIT_INTERVAL,
        hooks: Hooks | None = None,
        running: int | None = None,
    ) -> None:
        self.engine = engine
        self.hooks = hooks if hooks is not None else Hooks(enabled=False)
        self.typing_delay = typing_delay
        self.edit_interval = edit_interval
        # At most `running` replies are written at once over all conversations; the others
        # wait their turn, queued (a reply half written holds far more memory than one queued).
        self.queues = SerialQueues("replies", running=running)
        self.final_retries = FINAL_RETRIES  # waits between tries at showing a final text
        self.notice_retries = NOTICE_RETRIES  # waits while Discord is down, for a failure line
        self.later = Later()  # failure lines waiting for Discord to answer again
        self._warned: set[UUID] = set()  # sessions told that older messages left the context
        self.drafts = Drafts(engine)
        self.swipes = Swipes(
            engine=engine, hooks=self.hooks, queues=self.queues, edit_interval=edit_interval
        )

    def __len__(self) -> int:
        return len(self.queues)

    def submit(self, key: str, job: ReplyJob) -> None:
        """Queue a reply behind the others of conversation `key`."""
        self.queues.submit(key, partial(self._reply, job))

    async def join(self) -> None:
        await self.queues.join()

    async def close(self) -> None:
        await self.queues.close()
        await self.later.close()

    async def _reply(self, job: ReplyJob) -> None:
        async with self.engine.holds.hold(job.session_id):  # one answerer, in every process
            await self._answer(job)

    async def _answer(self, job: ReplyJob) -> None:
        turn = self.engine.respond(
            job.session_id, job.stored, place=job.place, speaker=job.persona, unanswered=True
        )
        state = await turn.prepare()  # one read: answered?, drafts, session, history
        await self.drafts.put_right(job.session_id, partial(self._sink, job), state.drafts)
        if state.settled:  # answered once, only
            log.info("message %s of session %s is already answered", job.stored.id, job.session_id)
            if job.error_message is not None:
                await quietly(self.hooks.delete(job.error_message))
            return
        sink = await self._sink(job)
        header = len(sink.header) if isinstance(sink, WebhookSink | NamedSink) else 0
        streaming = StreamingReply(
            sink,
            interval=self.edit_interval,
            pushback=pushback,
            retries=self.final_retries,
            limit=MESSAGE_LIMIT - header,
        )
        streaming.on_sent = self.drafts.recorder(job.session_id, job.stored.id)
        typing = asyncio.create_task(self._typing(job.channel))
        try:
            async with aclosing(turn.stream()) as stream:
                async for delta in stream:
                    typing.cancel()
                    await streaming.add(delta)
            final = self._final_text(turn, streaming.text)
            view = self.swipes.newest(turn.reply, final, streaming.limit)
            shown = await streaming.finish(final, view=view)
            await self.swipes.shown(job.session_id, turn.reply, view, shown)
        except AnsweredMessageGone:  # deleted while being answered: the answer goes too
            log.info(
                "message %s of session %s was deleted before its reply",
                job.stored.id,
                job.session_id,
            )
            await quietly(streaming.discard())
            return
        except DOMAIN_ERRORS as exc:
            log.warning("reply in session %s failed: %s", job.session_id, exc)
            retry = isinstance(exc, SessionbotError)  # a storage failure is not the model's
            sentence = exc.public_message if isinstance(exc, SessionbotError) else str(exc)
            await self._failed(job, streaming, sentence, retry=retry)
            return
        except Exception as exc:
            await self._unexpected(job, turn, streaming, exc)
            return
        except asyncio.CancelledError:  # shutting down: show it as cut off, never stored
            await mark_cut_off(streaming, retry_view(job.session_id, job.stored.id))
            raise
        finally:
            await streaming.close()
            typing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await typing
            await self.drafts.done(job.session_id, job.stored.id)  # shown, or its failure is
        if job.error_message is not None:
            await quietly(self.hooks.delete(job.error_message))

    async def _sink(self, job: ReplyJob) -> DiscordSink | WebhookSink:
        """The persona's webhook where it has one here, else the bot's own messages."""
        profile = self.engine.find_persona(job.persona) if job.persona is not None else None
        voice = await self.hooks.voice(job.channel, profile)
        if voice is None:  # named, if one of several personas answers
            return await bot_sink(
                self.engine, job.session_id, job.persona, job.channel, job.reference
            )
        return WebhookSink(voice, self.hooks, job.stored.author_name)

    async def greet(
        self,
        channel: discord.abc.Messageable,
        persona: str,
        text: str,
        *,
        stored: Message | None = None,
    ) -> None:
        """Post a greeting as the persona (through its webhook where it has one); with the
        `stored` greeting, its alternatives get swipe buttons."""
        voice = await self.hooks.voice(channel, self.engine.find_persona(persona))
        if voice is not None:
            await self.say_as(voice, text, stored=stored)
            return
        posted = await say(channel, text)
        if stored is not None:
            await self.swipes.offer(stored.session_id, stored, posted)

    async def say_as(self, voice: Voice, text: str, *, stored: Message | None = None) -> None:
        """Post text (split if long) through a persona's webhook, e.g. its greeting (`stored`:
        the stored greeting, whose alternatives get swipe buttons)."""
        posted = await _post(WebhookSink(voice, self.hooks, None), text)
        if stored is not None:
            await self.swipes.offer(stored.session_id, stored, posted)

    async def _unexpected(
        self,
        job: ReplyJob,
        turn: Turn,
        streaming: StreamingReply[discord.Message],
        error: Exception,
    ) -> None:
        """Discord failing for good gets a failure line with Retry; a reply stored but refused
        (e.g. its message was deleted) is posted anew; anything else gets an apology."""
        what = f"a reply in session {job.session_id}"
        if pushback(error) is not None and turn.reply is not None:
            log.warning("Discord kept failing on %s; it is shown when Discord is back", what)
            self.later.show(self._show_late(job, streaming), what)
            return
        if pushback(error) is not None:
            log.warning("Discord kept failing on %s: %s", what, error)
            await self._failed(job, streaming, DISCORD_FAILED, retry=True)
            return
        if turn.reply is not None:  # stored, but Discord refused to show it: show it again
            log.warning("showing the reply in session %s failed; posting it anew", job.session_id)
            await quietly(streaming.discard())
            await quietly(_post(streaming.sink, turn.reply.content))
            return
        log.exception("reply in session %s failed unexpectedly", job.session_id)
        await self._failed(job, streaming, APOLOGY, retry=True)

    async def _show_late(self, job: ReplyJob, streaming: StreamingReply[discord.Message]) -> None:
        """Show a stored reply whole once Discord answers again (where its first part is)."""
        await streaming.finish(retries=self.notice_retries)
        if job.error_message is not None:
            await quietly(self.hooks.delete(job.error_message))

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
        """Replace a half-shown reply with a short error (and a Retry button); while Discord
        fails, in the background once it answers again."""
        sink = streaming.sink
        assert isinstance(sink, DiscordSink | WebhookSink)
        view = retry_view(job.session_id, job.stored.id) if retry else None
        notice = Notice(sink, f"⚠️ {sentence}", view, await streaming.release(), job.error_message)
        try:
            await notice.show()
        except DISCORD_FAILURES as exc:
            if pushback(exc) is None:
                log.warning("Discord refused a failure line in session %s: %s", job.session_id, exc)
                return
            log.warning("Discord is failing; the failure line of session %s waits", job.session_id)
            retrying = persist(notice.show, self.notice_retries, pushback)
            self.later.show(retrying, f"the failure of a reply in session {job.session_id}")

    async def _typing(self, channel: discord.abc.Messageable) -> None:
        await asyncio.sleep(self.typing_delay)
        try:
            async with channel.typing():
                await asyncio.Event().wait()
        except discord.HTTPException as exc:
            log.debug("typing indicator failed: %s", exc)

    # Retry button ------------------------------------------------------------------------

    async def retry(
        self, interaction: discord.Interaction[Any], session_id: UUID, message_id: int
    ) -> None:
        """Answer a stored message again (the Retry button of a failed reply)."""
        here = conversation_key(interaction.guild_id, interaction.channel_id or 0)
        try:
            session = await self.engine.session(session_id)
            if session.status is SessionStatus.ENDED:
                raise SessionIsOver()
            if session.binding_key != here:  # a button only ever answers in its own channel
                raise NothingToRetry()
            stored = await self._stored(session_id, message_id)
            if await self.engine.answered(session_id, stored.id):  # a second click, or a restart
                raise AlreadyAnswered()
        except DOMAIN_ERRORS as exc:
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
            persona=await self.engine.cast.speaker(session, stored.content),
        )
        self.submit(session.binding_key or str(session.id), job)

    async def _stored(self, session_id: UUID, message_id: int) -> Message:
        found = await self.engine.stored_message(session_id, message_id)
        if found is None or found.role is not Role.USER:
            raise NothingToRetry()
        return found


async def say(
    channel: discord.abc.Messageable,
    text: str,
    *,
    reference: discord.MessageReference | None = None,
    **kwargs: Any,
) -> list[discord.Message]:
    """Post text (split if long) that no mention inside can ping; return the messages."""
    posted = []
    for index, part in enumerate(split_reply(text)):
        if index == 0 and reference is not None:
            kwargs["reference"] = reference
        else:
            kwargs.pop("reference", None)
        posted.append(await channel.send(part, allowed_mentions=NO_MENTIONS, **kwargs))
    return posted


async def _post(sink: object, text: str) -> list[discord.Message]:
    """Post text anew (split if long) through a reply's sink, the first part as the reply."""
    assert isinstance(sink, DiscordSink | WebhookSink)
    header = len(sink.header) if isinstance(sink, WebhookSink | NamedSink) else 0
    return [
        await sink.send(part, reply=index == 0)
        for index, part in enumerate(split_reply(text, MESSAGE_LIMIT - header))
    ]


async def quietly(action: Awaitable[Any]) -> None:
    """Await a best-effort Discord call; a failure is logged, not raised."""
    try:
        await action
    except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
        log.warning("Discord refused or missed a follow-up action: %s", exc)
