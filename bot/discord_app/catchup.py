"""Catch-up after downtime: read what each conversation missed, store it, answer it once.

After a fresh gateway session (discord.py's `on_ready`; a RESUME replays the missed events
itself), every active session bound to a Discord channel, thread or DM gets one catch-up job on
its conversation's intake queue, ahead of anything arriving live (see `gates.py`). The job reads
the channel's messages after the newest one the session stores (one request in the usual case),
keeps those people wrote in the last SESSIONBOT_CATCHUP_MAX_AGE seconds, at most the newest
SESSIONBOT_CATCHUP_MESSAGES of them, stores them in order and queues one reply, to the newest:
its context holds them all. A stored message that never got an answer (its reply had not started
when the bot stopped) is answered the same way, unless a failed attempt already offers Retry.
A few channels are read at a time, so a bot in many channels never bursts requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import discord

from bot.discord_app.drafts import BOT_TARGET
from bot.discord_app.intake import Intake
from bot.discord_app.places import PREFIX, Place, parse_key
from bot.discord_app.views import retry_id
from bot.engine import Engine
from storage import ListQuery, Message, Role, SessionStatus

log = logging.getLogger(__name__)

CONCURRENCY = 3  # channels read at a time
PAGE = 100  # Discord's largest page of channel messages
SESSIONS_PAGE = 500


@dataclass(frozen=True)
class Missed:
    """What a channel holds after the session's newest stored message."""

    read: list[discord.Message]  # everything read, oldest first (the bot's own messages too)
    kept: list[discord.Message]  # what to store, oldest first
    too_old: int  # people's messages older than the age limit
    beyond: int  # people's messages past the count limit (more, if `more`)
    more: bool  # more than a page was missed: only the newest were read


class CatchUp:
    """Catches up every Discord-bound session after a fresh gateway session."""

    def __init__(
        self,
        *,
        client: discord.Client,
        engine: Engine,
        intake: Intake,
        limit: int,
        max_age: float,
        concurrency: int = CONCURRENCY,
        owns: Callable[[int | None], bool] = lambda guild_id: True,
    ) -> None:
        self.client = client
        self.owns = owns  # whether this process runs the shard of a guild (None: DMs)
        self.engine = engine
        self.intake = intake
        self.limit = limit
        self.max_age = max_age
        self.concurrency = concurrency
        self._task: asyncio.Task[None] | None = None

    def connected(self) -> None:
        """A new gateway session began (READY): hold events until catch-up knows its work."""
        self.intake.gates.hold()
        self._cancel()

    def start(self) -> None:
        """The new session is ready: catch up the bound sessions, a few channels at a time."""
        self._cancel()
        if not self.intake.closing:
            self._task = asyncio.create_task(self._run(), name="catch-up")

    async def close(self) -> None:
        task = self._cancel()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _cancel(self) -> asyncio.Task[None] | None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        return task

    async def _run(self) -> None:
        places: list[Place] = []
        if self.limit > 0:
            try:
                places = await self._places()
            except Exception:
                log.exception("listing the sessions to catch up failed; not catching up")
        self.intake.gates.gate(place.key for place in places)
        if places:
            log.info("catching up %d conversation(s)", len(places))
        try:
            todo = iter(places)
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self.concurrency, len(places))):
                    group.create_task(self._work(todo))
        finally:
            self.intake.gates.open_all()

    async def _places(self) -> list[Place]:
        """Where the active Discord sessions are, most recently active first."""
        places: list[Place] = []
        cursor: str | None = None
        while True:
            query = ListQuery(
                key_prefix=PREFIX,
                status=SessionStatus.ACTIVE,
                order_by="updated_at",
                limit=SESSIONS_PAGE,
                cursor=cursor,
            )
            page = await self.engine.list_sessions(query)
            for session in page.items:
                place = parse_key(session.binding_key)
                if place is None or not self.owns(place.guild_id):
                    continue  # another process's shard catches it up
                if self.intake.allow_dms or not place.is_dm:
                    places.append(place)
            if page.next_cursor is None:
                return places
            cursor = page.next_cursor

    async def _work(self, todo: Iterator[Place]) -> None:
        """Catch up places one at a time, each as a job on its intake queue."""
        for place in todo:
            done = asyncio.get_running_loop().create_future()
            if self.intake.gates.open(place.key, partial(self._job, place, done)):
                await done

    async def _job(self, place: Place, done: asyncio.Future[None]) -> None:
        try:
            await self._catch_up(place)
        except discord.HTTPException as exc:
            log.warning("catching up %s failed: %s", place.key, exc)
        finally:
            if not done.done():
                done.set_result(None)

    async def _catch_up(self, place: Place) -> None:
        session = await self.engine.active_session(place.key)
        channel = await self._channel(place) if session is not None else None
        if session is None or channel is None:
            return
        latest = await self.engine.latest_external_message(session.id)
        missed = await self._missed(channel, latest)
        _log_skipped(place, missed, self.limit, self.max_age)
        newest: Message | None = None
        for message in missed.kept:
            if not await self.intake.seen(message, place):
                newest = await self.intake.store(message, session) or newest
        if newest is None and latest is not None and await self._unanswered(latest, missed):
            newest = latest
            await self._note_stubs(latest, missed)
        elif newest is None and latest is not None and await self._half_written(latest):
            newest = latest  # its reply is put right (see `drafts`), answered if it is not
        if newest is not None:
            log.info("caught up %s: answering message %s", place.key, newest.external_id)
            persona = await self.engine.cast.speaker(session, newest.content)
            self.intake.answer(session.id, newest, channel, place, persona=persona)

    async def _channel(self, place: Place) -> discord.abc.Messageable | None:
        channel = self.client.get_channel(place.channel_id)
        if channel is None:
            try:
                channel = await self.client.fetch_channel(place.channel_id)
            except (discord.NotFound, discord.Forbidden) as exc:
                log.info("not catching up %s: the channel is gone or hidden (%s)", place.key, exc)
                return None
        return channel if isinstance(channel, discord.abc.Messageable) else None

    async def _missed(self, channel: discord.abc.Messageable, latest: Message | None) -> Missed:
        """The channel's messages after `latest` (or within the age limit), oldest first."""
        oldest = self.engine.clock() - timedelta(seconds=self.max_age)
        after = discord.utils.time_snowflake(oldest)
        if latest is not None and latest.external_id is not None and latest.external_id.isdigit():
            after = int(latest.external_id)
        read = [m async for m in channel.history(limit=PAGE, after=discord.Object(after))]
        more = len(read) == PAGE
        if more:  # more than a page was missed: read the newest ones instead
            newest = [m async for m in channel.history(limit=self.limit)]
            read = sorted((m for m in newest if m.id > after), key=lambda m: m.id)
        people = [m for m in read if self.intake.answerable(m)]
        fresh = [m for m in people if m.created_at >= oldest]
        kept = fresh[-self.limit :]
        return Missed(read, kept, len(people) - len(fresh), len(fresh) - len(kept), more)

    async def _note_stubs(self, latest: Message, missed: Missed) -> None:
        """A process that died before it noted its reply's draft left a stub replying to
        `latest` with no Retry: note it now, so that it is deleted before the answer."""
        me = self.client.user
        if me is None or await self.engine.drafts.of_message(latest.session_id, latest.id):
            return
        stubs = [
            str(m.id)
            for m in missed.read
            if m.author.id == me.id
            and m.reference is not None
            and str(m.reference.message_id) == latest.external_id
        ]
        if stubs:
            log.info("a reply to message %s was left half-written", latest.external_id)
            await self.engine.drafts.note(
                latest.session_id, latest.id, target=BOT_TARGET, posted=stubs
            )

    async def _half_written(self, latest: Message) -> bool:
        """True if a process that died left a reply of this session half-shown."""
        return bool(await self.engine.drafts.of_session(latest.session_id))

    async def _unanswered(self, latest: Message, missed: Missed) -> bool:
        """True if `latest` is a recent person's message with no reply and no Retry shown."""
        if latest.role is not Role.USER:
            return False
        age = self.engine.clock() - latest.created_at
        if age > timedelta(seconds=self.max_age):
            return False
        if await self.engine.answered(latest.session_id, latest.id):
            return False
        return not any(_offers_retry(m, latest) for m in missed.read)


def _offers_retry(message: discord.Message, latest: Message) -> bool:
    """True if `message` carries the Retry button of `latest` (a webhook's message is no
    Discord reply, so the button's custom id says which message it answers)."""
    wanted = retry_id(latest.session_id, latest.id)
    return any(
        isinstance(item, discord.Button) and item.custom_id == wanted
        for row in message.components
        if isinstance(row, discord.ActionRow)
        for item in row.children
    )


def _log_skipped(place: Place, missed: Missed, limit: int, max_age: float) -> None:
    if missed.too_old:
        log.info(
            "catch-up in %s: %d missed message(s) older than %g s left unanswered",
            place.key,
            missed.too_old,
            max_age,
        )
    if missed.beyond or missed.more:
        log.info(
            "catch-up in %s: skipped %d%s older missed message(s); storing the newest %d",
            place.key,
            missed.beyond,
            "+" if missed.more else "",
            limit,
        )
