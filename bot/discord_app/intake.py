"""Messages in: which messages start or continue a session, and storing them in order.

In a channel, thread or DM with an active session every message from a person is answered (by
the persona it names or replies to, in a session of several); in a server channel without one,
a message that mentions the bot starts a session with the place's default persona (`/persona
default`, else the bot's); in DMs (unless SESSIONBOT_ALLOW_DMS is off) the first message starts
one. Bots, the bot itself included, are never answered.

Every message becomes a job on its conversation's intake queue (store it, in arrival order),
which queues the reply on the conversation's reply queue (`Replies`); the gateway handler
returns at once. Edits and deletions go through the same intake queue, so they never overtake
the message, and so does catch-up after downtime (`catchup.py`), behind `Gates`. A message
already stored (a replayed or duplicated event, or one catch-up got first) is not answered
again. A message over one of the abuse limits is stored but not answered (`admission.py`).
"""

from __future__ import annotations

import logging
from functools import partial
from uuid import UUID

import discord

from bot.discord_app.admission import admitted
from bot.discord_app.attachments import message_text
from bot.discord_app.casting import answering_persona, starting_persona
from bot.discord_app.gates import Gates
from bot.discord_app.places import (
    Place,
    conversation_key,
    place_name,
    place_of,
    session_metadata,
)
from bot.discord_app.replies import Replies, ReplyJob, quietly, reference_to, say
from bot.discord_app.serial import Job, SerialQueues
from bot.engine import Engine, Incoming
from bot.engine.errors import SessionbotError
from storage import Message, Session
from storage.errors import BindingConflict, SessionEnded

log = logging.getLogger(__name__)

ANSWERED_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})


def mentions_me(message: discord.Message, me: discord.abc.User) -> bool:
    """True if the message mentions the bot, or the bot's own role (not @everyone)."""
    if any(user.id == me.id for user in message.mentions):
        return True
    return any(
        role.tags is not None and role.tags.bot_id == me.id for role in message.role_mentions
    )


class Intake:
    """The bot's message handling, up to the reply queue; one instance per bot, closed with it."""

    def __init__(self, *, engine: Engine, replies: Replies, allow_dms: bool) -> None:
        self.engine = engine
        self.replies = replies
        self.allow_dms = allow_dms
        self.queues = SerialQueues("intake")
        self.gates = Gates(self.queues)
        self.closing = False

    def answerable(self, message: discord.Message) -> bool:
        """True for a message a person wrote, of a kind people write, where the bot answers."""
        if message.author.bot or message.webhook_id is not None:
            return False
        if message.type not in ANSWERED_TYPES:
            return False
        return message.guild is not None or self.allow_dms

    # Gateway events (synchronous: they only queue work) -----------------------------------

    def receive(self, message: discord.Message, me: discord.abc.User) -> None:
        """Queue a new message for intake if the bot may answer it."""
        if not self.answerable(message):
            return
        place = place_of(message.channel, message.guild.id if message.guild else None)
        self.submit(place.key, partial(self._take, message, place, me))

    def edited(self, payload: discord.RawMessageUpdateEvent) -> None:
        message = payload.message
        if message.author.bot or (payload.guild_id is None and not self.allow_dms):
            return
        if _same_text(payload.cached_message, message):  # an unfurl or a pin, not an edit
            return
        key = conversation_key(payload.guild_id, payload.channel_id)
        self.submit(key, partial(self._edit, key, message))

    def deleted(self, guild_id: int | None, channel_id: int, message_ids: set[int]) -> None:
        key = conversation_key(guild_id, channel_id)
        self.submit(key, partial(self._delete, key, message_ids))

    def submit(self, key: str, job: Job) -> None:
        """Queue a job on conversation `key` (behind its catch-up, if it has one coming)."""
        if self.closing:  # shutting down: Discord keeps the message for the next start
            log.debug("shutting down; not taking an event for %s", key)
            return
        self.gates.submit(key, job)

    async def join(self) -> None:
        """Wait until every queued message (and catch-up) is stored and answered."""
        while self.gates.closed or len(self.queues) or len(self.replies):
            await self.gates.wait_open()
            await self.queues.join()
            await self.replies.join()

    def stop_taking(self) -> None:
        """Take no new events and drop the queued ones (Discord keeps them for catch-up)."""
        self.closing = True
        self.gates.hold()
        self.queues.stop()

    async def close(self) -> None:
        """Stop both queues at once, cancelling what runs (see `shutdown.py` for the grace)."""
        self.stop_taking()
        await self.queues.close()
        await self.replies.close()

    # Jobs --------------------------------------------------------------------------------

    async def _take(self, message: discord.Message, place: Place, me: discord.abc.User) -> None:
        # One round trip: the place's session, whether the message is stored already (a
        # replay, or a duplicate) and, for a message of text alone, storing it there.
        plain = await self._plain(message)
        arrival = await self.engine.arrival(place.key, str(message.id), storing=plain)
        if arrival.seen:
            log.debug("message %s in %s is already stored; not again", message.id, place.key)
            return
        session = arrival.session
        if session is not None and plain is not None:
            stored = arrival.stored  # None: ended meanwhile, or another process stored it
        else:
            if session is None:
                if not place.is_dm and not mentions_me(message, me):
                    return
                session = await self._auto_start(message, place)
                if session is None:
                    return
            stored = await self.store(message, session)
        if stored is not None and await admitted(self.engine, message, place, stored):
            persona = await answering_persona(self.engine, session, message, me.id)
            self.answer(session.id, stored, message.channel, place, persona=persona)

    async def seen(self, message: discord.Message, place: Place) -> bool:
        """True if a session here already stores the message (a replay, or a duplicate)."""
        if await self.engine.message_holders(place.key, str(message.id)):
            log.debug("message %s in %s is already stored; not again", message.id, place.key)
            return True
        return False

    @staticmethod
    async def _plain(message: discord.Message) -> Incoming | None:
        """The message to store as it arrives, if it is text alone (attachments are read only
        once the message is known to be stored); None for one with files, or with no text."""
        if message.attachments:
            return None
        content = await message_text(message.clean_content, ())
        if not content.strip():
            return None
        return Incoming(
            content=content,
            author_name=message.author.display_name,
            author_id=str(message.author.id),
            external_id=str(message.id),
        )

    async def store(self, message: discord.Message, session: Session) -> Message | None:
        """Store a message in `session`; None if it has no text or the session has ended."""
        content = await message_text(message.clean_content, message.attachments)
        if not content.strip():
            return None
        incoming = Incoming(
            content=content,
            author_name=message.author.display_name,
            author_id=str(message.author.id),
            external_id=str(message.id),
        )
        try:
            return await self.engine.submit(session.id, incoming)
        except SessionEnded:
            log.debug("session %s ended before message %s was stored", session.id, message.id)
            return None

    def answer(
        self,
        session_id: UUID,
        stored: Message,
        channel: discord.abc.Messageable,
        place: Place,
        *,
        persona: str | None = None,
    ) -> None:
        """Queue the reply to a stored message, as a reply to its Discord message."""
        reference = None
        if stored.external_id is not None and stored.external_id.isdigit():
            reference = reference_to(int(stored.external_id), place.channel_id, place.guild_id)
        job = ReplyJob(
            session_id=session_id,
            stored=stored,
            channel=channel,
            place=place_name(channel),
            reference=reference,
            persona=persona,
        )
        self.replies.submit(place.key, job)

    async def _auto_start(self, message: discord.Message, place: Place) -> Session | None:
        """Start a session with this place's default persona; post its greeting."""
        try:
            started = await self.engine.start_session(
                persona_id=await starting_persona(self.engine, place),
                binding_key=place.key,
                user_id=str(message.author.id),
                metadata=session_metadata(place, message.author),
            )
        except BindingConflict:  # a /session start got there first
            return await self.engine.active_session(place.key)
        except SessionbotError as exc:
            await say(message.channel, f"⚠️ {exc}", reference=message.to_reference())
            return None
        if started.greeting is not None:  # best effort: the message must be stored regardless
            greeting = started.greeting.content
            await quietly(
                self.replies.greet(
                    message.channel, started.session.agent_id, greeting, stored=started.greeting
                )
            )
        return started.session

    async def _edit(self, key: str, message: discord.Message) -> None:
        """Update the stored copy, in whichever session here holds it (ended ones too)."""
        holders = await self.engine.message_holders(key, str(message.id))
        if not holders:
            return
        content = await message_text(message.clean_content, message.attachments)
        await self.engine.edit_message(holders, str(message.id), content)
        await self.replies.swipes.edited(holders, message)
        log.debug("message %s edited in %d session(s)", message.id, len(holders))

    async def _delete(self, key: str, message_ids: set[int]) -> None:
        """Delete the stored copies, in whichever sessions here hold them (ended ones too)."""
        for message_id in sorted(message_ids):
            if deleted := await self.engine.delete_message(key, str(message_id)):
                log.debug("message %s deleted in %d session(s)", message_id, deleted)


def _same_text(before: discord.Message | None, after: discord.Message) -> bool:
    """True if an update left the text and attachments as they were."""
    if before is None:
        return False
    return before.content == after.content and [a.id for a in before.attachments] == [
        a.id for a in after.attachments
    ]
