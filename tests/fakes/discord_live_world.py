"""The fake Discord's world as a test builds it, with each live change told to the bot.

`LiveWorld` is the world-building half of `FakeDiscord`: users, guilds, members, roles and
channels added before the bot connects are simply there when it does; added while it runs, they
are dispatched over the gateway (GUILD_CREATE, CHANNEL_CREATE, ...) as Discord would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tests.fakes import discord_objects as obj
from tests.fakes.discord_gateway import Gateway
from tests.fakes.discord_objects import Payload, Permission
from tests.fakes.discord_records import SentMessage
from tests.fakes.discord_world import GuildState, World
from tests.fakes.http import FakeHTTPServer


class LiveWorld(FakeHTTPServer):
    """The world of one fake Discord and the gateway its live changes go out on.

    `FakeDiscord` makes both. Ids are ints in this API; payloads carry Discord's strings.
    """

    world: World
    gateway: Gateway
    echo_bot_messages: bool

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
        shard: tuple[int, int] | None = None,
    ) -> int:
        """A guild the bot is in (with its managed role); the owner defaults to a new user.
        With `shard` (id, count), a guild whose events that shard receives."""
        owner = owner_id if owner_id is not None else self.world.add_user(f"{name}-owner")
        guild = self.world.add_guild(name, owner, bot_permissions, everyone_permissions, shard)
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
