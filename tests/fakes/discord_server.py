"""A fake Discord (REST v10 + gateway websocket) on 127.0.0.1 for end-to-end bot tests.

The real, unmodified discord.py client talks to it. Point discord.py at it with::

    discord.http.Route.BASE = fake.api_base                      # REST
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)

(the gateway URL is also what ``GET {api_base}/gateway/bot`` returns). Then build the world,
start the client, and drive it as users would::

    async with FakeDiscord() as fake:
        guild = fake.add_guild("Test Server")
        general = fake.add_channel(guild, "general")
        alice = fake.add_user("alice", guilds=[guild])
        ...start the bot...
        await fake.wait_ready()
        await fake.send_message(general, alice, f"<@{fake.bot_id}> hello")
        [reply] = await fake.wait_for(lambda: fake.sent_messages(general))
        run = await fake.invoke_command("session start", {"persona": "sara"},
                                        channel_id=general, user_id=alice)
        response = await fake.wait_response(run)

What the bot does is recorded: `sent_messages()` (current state after edits, with
allowed_mentions, files and `pings()`), `interactions` (callbacks, original response,
follow-ups), `command_syncs`, `typing`, the raw `requests` (with the status answered), and
`unknown_requests`/`errors`/`server_errors` (`assert_no_errors()` fails the test on any of
them; a 5xx would otherwise go unseen, as discord.py retries it). Discord's rules that catch
real bugs are applied: 2,000-character content, empty messages, one callback per interaction
within `interaction_deadline` seconds, command payload validation, default_member_permissions,
intents (no content without MESSAGE_CONTENT), and the bot's own messages echoed back.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

from aiohttp import web

from tests.fakes import discord_interactions as interactions
from tests.fakes import discord_objects as obj
from tests.fakes.discord_gateway import RECONNECT, Gateway
from tests.fakes.discord_objects import Payload, Permission
from tests.fakes.discord_records import DiscordError, InteractionRecord, SentMessage
from tests.fakes.discord_rest import API, RestAPI
from tests.fakes.discord_world import GuildState, World
from tests.fakes.http import FakeHTTPServer, RecordedRequest, UploadedFile

__all__ = [
    "DiscordError",
    "FakeDiscord",
    "InteractionRecord",
    "Payload",
    "Permission",
    "SentMessage",
]


class FakeDiscord(FakeHTTPServer):
    """Fake Discord for one bot. Ids are ints in this API; payloads carry Discord's strings.

    `token`: if set, REST and IDENTIFY with another token fail (401 / close 4004).
    `heartbeat_interval`: seconds, sent in HELLO. `interaction_deadline`: seconds the bot has
    for its first interaction callback (None: no limit). `echo_bot_messages`: dispatch the bot's
    own non-ephemeral messages back to it as Discord does.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        bot_name: str = "sessionbot",
        heartbeat_interval: float = 41.25,
        interaction_deadline: float | None = 3.0,
        echo_bot_messages: bool = True,
    ) -> None:
        super().__init__()
        self.token = token
        self.interaction_deadline = interaction_deadline
        self.echo_bot_messages = echo_bot_messages
        self.world = World(bot_name)
        self.gateway = Gateway(
            self.world,
            url=lambda: self.gateway_url,
            token=token,
            heartbeat_interval=round(heartbeat_interval * 1000),
        )
        self.rest = RestAPI(self)
        self.interactions: dict[int, InteractionRecord] = {}
        self.interactions_by_token: dict[str, InteractionRecord] = {}
        self.command_syncs: list[tuple[int | None, list[Payload]]] = []
        self.typing: list[int] = []
        self.unknown_requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        self.server_errors: list[str] = []  # "METHOD /path: status" of every 5xx answer

    def add_routes(self, app: web.Application) -> None:
        self.rest.add_routes(app)

    async def start(self) -> Self:
        await super().start()
        self.world.cdn_url = self.url
        return self

    async def close(self) -> None:
        await self.gateway.close()
        await super().close()

    @property
    def api_base(self) -> str:
        """The value for ``discord.http.Route.BASE``: ``http://127.0.0.1:PORT/api/v10``."""
        return f"{self.url}{API}"

    @property
    def gateway_url(self) -> str:
        """``ws://127.0.0.1:PORT/gateway``, as ``GET /gateway/bot`` and READY report it."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def bot_id(self) -> int:
        """The bot user's id (also the application id)."""
        return self.world.bot_id

    @property
    def application_id(self) -> int:
        return self.world.bot_id

    # Building the world (before or while the bot runs; live changes are dispatched).

    def add_user(self, name: str, *, bot: bool = False, guilds: Iterable[int] = ()) -> int:
        """A new user, made a member (no roles) of each guild in `guilds`."""
        user_id = self.world.add_user(name, bot=bot)
        for guild_id in guilds:
            self.add_member(guild_id, user_id)
        return user_id

    def add_guild(
        self,
        name: str = "Test Server",
        *,
        owner_id: int | None = None,
        bot_permissions: int = Permission.BOT_DEFAULT,
        everyone_permissions: int = Permission.EVERYONE_DEFAULT,
    ) -> int:
        """A guild the bot is in (with its managed role); the owner defaults to a new user."""
        owner = owner_id if owner_id is not None else self.world.add_user(f"{name}-owner")
        guild = self.world.add_guild(name, owner, bot_permissions, everyone_permissions)
        self._live("GUILD_CREATE", guild.payload())
        return guild.id

    def add_member(
        self, guild_id: int, user_id: int, *, roles: Iterable[int] = (), nick: str | None = None
    ) -> None:
        member = self.world.add_member(guild_id, user_id, roles=roles, nick=nick)
        self._live("GUILD_MEMBER_ADD", {**member, "guild_id": str(guild_id)})

    def add_role(self, guild_id: int, name: str, permissions: int) -> int:
        role_id = self.world.add_role(guild_id, name, permissions)
        role = self.world.guild(guild_id).roles[role_id]
        self._live("GUILD_ROLE_CREATE", {"guild_id": str(guild_id), "role": role})
        return role_id

    def add_channel(
        self,
        guild_id: int,
        name: str,
        *,
        type: int = obj.GUILD_TEXT,  # Discord's field name
        parent_id: int | None = None,
        topic: str | None = None,
        overwrites: Sequence[Payload] = (),
    ) -> int:
        """A guild channel: text (0) by default, or e.g. forum (15) or category (4).

        `overwrites` are Discord permission overwrites, e.g. ``{"id": str(guild_id), "type": 0,
        "allow": "0", "deny": str(Permission.VIEW_CHANNEL)}`` hides it from @everyone.
        """
        channel = self.world.add_channel(guild_id, name, type, parent_id, topic, overwrites)
        self._live("CHANNEL_CREATE", channel)
        return int(channel["id"])

    def open_dm(self, user_id: int) -> int:
        """The DM channel between the bot and `user_id` (created on first use)."""
        return int(self.world.open_dm(user_id)["id"])

    def user(self, user_id: int) -> Payload:
        return self.world.user(user_id)

    def channel(self, channel_id: int) -> Payload:
        return self.world.channel(channel_id)

    def guild(self, guild_id: int) -> GuildState:
        return self.world.guild(guild_id)

    def message(self, message_id: int) -> Payload:
        """Any live message (users' or the bot's), current state."""
        return self.world.message(message_id)

    # Events users cause.

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
        await self._event("MESSAGE_CREATE", payload)
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
        sent = self.world.bot_messages.get(message_id)
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

    # What the bot did.

    def sent_messages(
        self,
        channel_id: int | None = None,
        *,
        include_ephemeral: bool = False,
        include_deleted: bool = False,
    ) -> list[SentMessage]:
        """The bot's messages (in `channel_id`, or all), oldest first, current state."""
        return [
            sent
            for sent in self.world.bot_messages.values()
            if (channel_id is None or sent.channel_id == channel_id)
            and (include_ephemeral or not sent.ephemeral)
            and (include_deleted or not sent.deleted)
        ]

    def interaction(self, interaction_id: int) -> InteractionRecord:
        return self.interactions[interaction_id]

    def interaction_responses(self, interaction_id: int) -> list[Payload]:
        """The callback bodies (``{"type": ..., "data": ...}``) the bot posted, in order."""
        return list(self.interactions[interaction_id].callbacks)

    def commands(self, guild_id: int | None = None) -> list[Payload]:
        """The registered commands (global, or of one guild) with their ids."""
        return list(self.world.commands.get(guild_id, []))

    def assert_no_errors(self) -> None:
        """Fail if the bot hit a route the fake lacks, the fake itself failed, or any answer
        was a 5xx (discord.py retries those quietly, so they would only show as slowness)."""
        unknown = [f"{r.method} {r.path}" for r in self.unknown_requests]
        assert not unknown, f"requests to routes the fake Discord does not know: {unknown}"
        assert not self.errors, "fake Discord failed:\n" + "\n".join(self.errors)
        assert not self.server_errors, f"fake Discord answered 5xx: {self.server_errors}"

    # Waits. They poll (see FakeHTTPServer.wait_for) and fail with AssertionError.

    async def wait_ready(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until a bot identified (or resumed) and READY plus GUILD_CREATEs were sent."""
        await self.wait_until(lambda: self.gateway.ready, timeout)

    async def wait_commands_synced(
        self,
        guild_id: int | None = None,
        *,
        any_scope: bool = False,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> list[Payload]:
        """Wait for a bulk overwrite of the global commands (or of `guild_id`'s, or of any scope
        with `any_scope`); return the commands stored by the latest one."""

        def latest() -> tuple[list[Payload]] | None:
            for scope, stored in reversed(self.command_syncs):
                if any_scope or scope == guild_id:
                    return (stored,)
            return None

        found = await self.wait_for(latest, timeout)
        assert found is not None
        return found[0]

    async def wait_response(
        self,
        record: InteractionRecord,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Payload:
        """Wait for the bot's callback to an interaction; return its body."""
        await self.wait_until(lambda: bool(record.callbacks), timeout)
        assert record.response is not None
        return record.response

    # Dispatch helpers (also used by the REST handlers).

    def dispatch_echo(self, event: str, sent: SentMessage) -> None:
        if self.echo_bot_messages and not sent.ephemeral and self.gateway.current is not None:
            self.gateway.dispatch(event, sent.payload)

    def dispatch_delete(self, message: Payload) -> None:
        data = {"id": message["id"], "channel_id": message["channel_id"]}
        if "guild_id" in message:
            data["guild_id"] = message["guild_id"]
        self._live("MESSAGE_DELETE", data)

    def dispatch_thread(self, thread: Payload) -> None:
        self._live("THREAD_CREATE", {**thread, "newly_created": True})

    def _live(self, event: str, data: Payload) -> None:
        """Dispatch if a bot session exists (world changes before connect need no event)."""
        if self.gateway.current is not None:
            self.gateway.dispatch(event, data)

    async def _event(self, event: str, data: Payload) -> None:
        self.gateway.dispatch(event, data)
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
