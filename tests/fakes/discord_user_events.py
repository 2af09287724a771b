"""What users do on the fake Discord, as the events a bot receives.

Users post, edit and delete messages, start threads, run slash commands, type into
autocompleted options and click components. Each action changes the world and dispatches the
event a bot would get (MESSAGE_CREATE, THREAD_CREATE, INTERACTION_CREATE, ...); interactions
are recorded for the test to inspect. A gateway reconnect can be asked for too.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tests.fakes import discord_interactions as interactions
from tests.fakes import discord_objects as obj
from tests.fakes.discord_gateway import RECONNECT
from tests.fakes.discord_live_world import LiveWorld
from tests.fakes.discord_objects import Payload
from tests.fakes.discord_records import InteractionRecord
from tests.fakes.http import UploadedFile

if TYPE_CHECKING:
    from tests.fakes.discord_webhooks import FakeWebhooks


class UserEvents(LiveWorld):
    """The events users cause, for `FakeDiscord` (which makes the interaction records)."""

    interactions: dict[int, InteractionRecord]
    interactions_by_token: dict[str, InteractionRecord]
    webhooks: FakeWebhooks

    async def send_message(
        self,
        channel_id: int,
        author_id: int,
        content: str = "",
        *,
        mentions: Iterable[int] = (),
        attachments: Sequence[tuple[str, bytes]] = (),
        reply_to: int | None = None,
        embeds: Sequence[Payload] = (),
        message_id: int | None = None,
    ) -> Payload:
        """A user posts a message (MESSAGE_CREATE). Mentions in `content` are parsed as Discord
        does; `mentions` adds user ids. Attachments are served at their `url`."""
        payload = self._user_message(
            channel_id, author_id, content, mentions, attachments, reply_to, embeds, message_id
        )
        await self._event("MESSAGE_CREATE", payload)
        return payload

    def post_while_down(self, channel_id: int, author_id: int, content: str) -> Payload:
        """A user posts while the bot has no gateway connection: the message is in the channel
        (and in its history), and a resumable session gets it on RESUME; nothing is sent now."""
        if self.gateway.ready:
            raise RuntimeError("the bot is connected; stop it or hold its gateway first")
        payload = self._user_message(channel_id, author_id, content)
        self._live("MESSAGE_CREATE", payload)  # buffered in a resumable session, if any
        return payload

    async def redeliver(self, message_id: int) -> None:
        """Dispatch a message's MESSAGE_CREATE once more (Discord delivers at least once)."""
        await self._event("MESSAGE_CREATE", self.world.message(message_id))

    async def invalidate_session(self) -> None:
        """Op 9 INVALID_SESSION, not resumable: the bot IDENTIFYs anew (and gets READY)."""
        self.gateway.invalidate()
        await self.gateway.flush()

    def _user_message(
        self,
        channel_id: int,
        author_id: int,
        content: str,
        mentions: Iterable[int] = (),
        attachments: Sequence[tuple[str, bytes]] = (),
        reply_to: int | None = None,
        embeds: Sequence[Payload] = (),
        message_id: int | None = None,
    ) -> Payload:
        """A user's message, stored in the world as Discord would store it (not dispatched)."""
        guild_id, member = self.world.author_fields(channel_id, author_id)
        files = [UploadedFile("files[0]", name, "", data) for name, data in attachments]
        message_id = message_id or self.world.snowflakes.next()
        payload = obj.message(
            message_id,
            channel_id,
            self.world.user(author_id),
            content,
            guild_id=guild_id,
            author_member=member,
            attachments=[self.world.store_file(channel_id, f) for f in files],
            embeds=embeds,
            referenced=self.world.message(reply_to, channel_id) if reply_to else None,
        )
        payload |= self.world.mention_fields(content, mentions)
        self.world.messages[message_id] = payload
        self.world.bump_channel(channel_id, message_id)
        return payload

    async def edit_message(self, message_id: int, content: str) -> Payload:
        """A user edits their message (MESSAGE_UPDATE with the full new message)."""
        message = self.world.message(message_id)
        if message["author"]["id"] == str(self.bot_id):
            raise ValueError("the bot's messages are edited by the bot, through REST")
        message |= {"content": content, "edited_timestamp": obj.timestamp()}
        message |= self.world.mention_fields(content)
        await self._event("MESSAGE_UPDATE", message)
        return message

    async def delete_message(self, message_id: int) -> None:
        """A message is deleted (MESSAGE_DELETE)."""
        message = self.world.message(message_id)
        del self.world.messages[message_id]
        sent = self.world.bot_messages.get(message_id)
        if sent is not None:
            sent.deleted = True
        self.dispatch_delete(message)
        await self.gateway.flush()

    async def create_thread(
        self,
        channel_id: int,
        name: str,
        owner_id: int,
        *,
        message_id: int | None = None,
        private: bool = False,
        content: str | None = None,
    ) -> int:
        """A user starts a thread (THREAD_CREATE): from `message_id`, or a new (private)
        thread; in a forum channel `content` becomes the post's starter message."""
        if message_id is not None:
            self.world.message(message_id, channel_id)
        thread = self.world.add_thread(
            channel_id, name, owner_id, private=private, thread_id=message_id
        )
        self.dispatch_thread(thread)
        thread_id = int(thread["id"])
        if content is not None:
            await self.send_message(thread_id, owner_id, content, message_id=thread_id)
        await self.gateway.flush()
        return thread_id

    async def archive_thread(self, thread_id: int) -> None:
        """The thread is archived (by a moderator, or after its inactivity period): Discord sends
        THREAD_UPDATE with `archived: true`, and clients drop archived threads from their cache."""
        thread = self.world.channel(thread_id)
        thread["thread_metadata"] = {**thread["thread_metadata"], "archived": True}
        await self._event("THREAD_UPDATE", thread)

    async def invoke_command(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        channel_id: int,
        user_id: int,
        subcommand: str | None = None,
        guild_id: int | None = None,
    ) -> InteractionRecord:
        """A user runs a slash command: ``"session start"`` or ``"session", subcommand="start"``.

        Options are typed and resolved from the registered command (users, channels and roles
        by id; attachments as ``(filename, bytes)``). Raises PermissionError where Discord would
        not offer the command to this user, ValueError for options it would not accept.
        """
        command, path, gid = self._command(name, subcommand, channel_id, user_id, guild_id)
        data = interactions.command_data(
            self.world, command, path, options or {}, guild_id=gid, channel_id=channel_id
        )
        return await self._interact(obj.APPLICATION_COMMAND, channel_id, user_id, data)

    async def invoke_autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        focused: str,
        *,
        channel_id: int,
        user_id: int,
        subcommand: str | None = None,
    ) -> InteractionRecord:
        """A user types into option `focused` (its partial text is ``options[focused]``)."""
        command, path, gid = self._command(name, subcommand, channel_id, user_id, None)
        data = interactions.command_data(
            self.world, command, path, options, guild_id=gid, channel_id=channel_id, focused=focused
        )
        return await self._interact(obj.AUTOCOMPLETE, channel_id, user_id, data)

    async def invoke_component(
        self,
        custom_id: str,
        message_id: int,
        *,
        user_id: int,
        component_type: int = 2,
        values: Sequence[str] | None = None,
    ) -> InteractionRecord:
        """A user clicks a button (2) or picks from a select (3, `values`) on a bot message."""
        sent = self.world.bot_messages.get(message_id) or self.webhooks.app_message(message_id)
        if sent is None or sent.deleted or custom_id not in sent.custom_ids():
            found = sent.custom_ids() if sent else None
            raise ValueError(f"message {message_id} has no component {custom_id!r} ({found})")
        data = interactions.component_data(custom_id, component_type, values)
        return await self._interact(
            obj.MESSAGE_COMPONENT, sent.channel_id, user_id, data, message=sent.payload
        )

    async def reconnect_gateway(self) -> None:
        """Ask the bot to reconnect (op 7 RECONNECT); discord.py then RESUMEs."""
        self.gateway.send_op(RECONNECT)
        await self.gateway.flush()

    def _command(
        self,
        name: str,
        subcommand: str | None,
        channel_id: int,
        user_id: int,
        guild_id: int | None,
    ) -> tuple[Payload, list[str], int | None]:
        path = name.split() + (subcommand.split() if subcommand else [])
        gid = self.world.guild_id_of(channel_id)
        if guild_id is not None and guild_id != gid:
            raise ValueError(f"channel {channel_id} is in guild {gid}, not {guild_id}")
        command = self.world.find_command(path[0], gid)
        interactions.check_allowed(self.world, command, gid, user_id)
        return command, path[1:], gid

    async def _interact(
        self,
        itype: int,
        channel_id: int,
        user_id: int,
        data: Payload,
        *,
        message: Payload | None = None,
    ) -> InteractionRecord:
        payload = interactions.interaction(
            self.world, itype, channel_id, user_id, data, message=message
        )
        record = InteractionRecord(payload, created=time.monotonic())
        self.interactions[record.id] = record
        self.interactions_by_token[record.token] = record
        await self._event("INTERACTION_CREATE", payload)
        return record
