"""The fake Discord's entities: users, guilds, members, roles, channels and threads.

Plain synchronous state with Discord's rules for it (who is in which guild, with which
permissions). `tests.fakes.discord_world.World` adds what is said in it: messages, files and
application commands.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tests.fakes import discord_guild_objects as guild_obj
from tests.fakes import discord_objects as obj
from tests.fakes.discord_objects import Payload, Permission, Snowflakes
from tests.fakes.discord_records import DiscordError, unknown


@dataclass
class GuildState:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Payload] = field(default_factory=dict)
    members: dict[int, Payload] = field(default_factory=dict)
    channels: dict[int, Payload] = field(default_factory=dict)
    threads: dict[int, Payload] = field(default_factory=dict)

    def payload(self) -> Payload:
        return guild_obj.guild(
            self.id,
            self.name,
            owner_id=self.owner_id,
            roles=list(self.roles.values()),
            channels=list(self.channels.values()),
            threads=list(self.threads.values()),
            members=list(self.members.values()),
        )


class Entities:
    """The users, guilds and channels the fake Discord knows. Ids are ints; payloads strings."""

    def __init__(self, bot_name: str) -> None:
        self.snowflakes = Snowflakes()
        self.users: dict[int, Payload] = {}
        self.guilds: dict[int, GuildState] = {}
        self.channels: dict[int, Payload] = {}
        self.dms: dict[int, int] = {}
        self.bot_id = self.add_user(bot_name, bot=True)
        self.owner_id = self.add_user(f"{bot_name}-owner")

    @property
    def bot_user(self) -> Payload:
        return self.users[self.bot_id]

    def add_user(self, name: str, *, bot: bool = False) -> int:
        user_id = self.snowflakes.next()
        self.users[user_id] = obj.user(user_id, name, bot=bot)
        return user_id

    def user(self, user_id: int) -> Payload:
        try:
            return self.users[user_id]
        except KeyError:
            raise unknown("User", 10013) from None

    def add_guild(
        self,
        name: str,
        owner_id: int,
        bot_permissions: int,
        everyone: int,
        shard: tuple[int, int] | None = None,
    ) -> GuildState:
        guild_id = self.snowflakes.on_shard(*shard) if shard else self.snowflakes.next()
        guild = GuildState(guild_id, name, owner_id)
        guild.roles[guild_id] = guild_obj.role(guild_id, "@everyone", everyone)
        bot_role = self.snowflakes.next()
        guild.roles[bot_role] = guild_obj.role(
            bot_role, self.bot_user["username"], bot_permissions, position=1
        )
        guild.roles[bot_role] |= {"managed": True, "tags": {"bot_id": str(self.bot_id)}}
        self.guilds[guild_id] = guild
        self.add_member(guild_id, self.bot_id, roles=[bot_role])
        self.add_member(guild_id, owner_id)
        return guild

    def guild(self, guild_id: int) -> GuildState:
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise unknown("Guild", 10004) from None

    def add_member(
        self, guild_id: int, user_id: int, *, roles: Iterable[int] = (), nick: str | None = None
    ) -> Payload:
        guild = self.guild(guild_id)
        member = guild_obj.member(
            self.user(user_id), roles, joined=self.snowflakes.next(), nick=nick
        )
        guild.members[user_id] = member
        return member

    def add_role(self, guild_id: int, name: str, permissions: int) -> int:
        guild = self.guild(guild_id)
        role_id = self.snowflakes.next()
        guild.roles[role_id] = guild_obj.role(role_id, name, permissions, position=len(guild.roles))
        return role_id

    def add_channel(
        self,
        guild_id: int,
        name: str,
        channel_type: int,
        parent_id: int | None,
        topic: str | None,
        overwrites: Sequence[Payload] = (),
    ) -> Payload:
        guild = self.guild(guild_id)
        channel_id = self.snowflakes.next()
        channel = guild_obj.guild_channel(
            channel_id,
            guild_id,
            name,
            channel_type,
            position=len(guild.channels),
            parent_id=parent_id,
            topic=topic,
            overwrites=overwrites,
        )
        guild.channels[channel_id] = self.channels[channel_id] = channel
        return channel

    def add_thread(
        self, parent_id: int, name: str, owner_id: int, *, private: bool, thread_id: int | None
    ) -> Payload:
        parent = self.channel(parent_id)
        guild_id = self.guild_id_of(parent_id)
        if guild_id is None or parent["type"] not in (obj.GUILD_TEXT, obj.GUILD_ANNOUNCEMENT, 15):
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        thread_id = thread_id or self.snowflakes.next()
        if thread_id in self.channels:
            raise DiscordError(400, 160004, "A thread has already been created for this message")
        thread = guild_obj.thread(thread_id, guild_id, parent_id, owner_id, name, private=private)
        self.guild(guild_id).threads[thread_id] = self.channels[thread_id] = thread
        return thread

    def open_dm(self, user_id: int) -> Payload:
        if user_id not in self.dms:
            channel_id = self.snowflakes.next()
            self.channels[channel_id] = guild_obj.dm_channel(channel_id, self.user(user_id))
            self.dms[user_id] = channel_id
        return self.channels[self.dms[user_id]]

    def channel(self, channel_id: int) -> Payload:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise unknown("Channel", 10003) from None

    def guild_id_of(self, channel_id: int) -> int | None:
        gid = self.channel(channel_id).get("guild_id")
        return int(gid) if gid is not None else None

    def permissions(self, guild_id: int, user_id: int) -> int:
        """Guild-level permissions of a member (channel overwrites are not modelled)."""
        guild = self.guild(guild_id)
        member = guild.members.get(user_id)
        if member is None:
            raise ValueError(f"user {user_id} is not a member of guild {guild_id}")
        if user_id == guild.owner_id:
            return Permission.ALL
        value = int(guild.roles[guild_id]["permissions"])
        for role_id in member["roles"]:
            value |= int(guild.roles[int(role_id)]["permissions"])
        return Permission.ALL if value & Permission.ADMINISTRATOR else value

    def member(self, guild_id: int, user_id: int) -> Payload:
        """A member with user and computed `permissions`, as interactions carry it."""
        member = self.guild(guild_id).members.get(user_id)
        if member is None:
            raise ValueError(f"user {user_id} is not a member of guild {guild_id}")
        return {**member, "permissions": str(self.permissions(guild_id, user_id))}
