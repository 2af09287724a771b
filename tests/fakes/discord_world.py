"""The fake Discord's world: users, guilds, channels, messages, files and commands.

Plain synchronous state with the rules Discord applies (who may see and run what, what a
message may hold). The REST handlers and the test-facing API change it; the gateway sends it.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.fakes import discord_objects as obj
from tests.fakes.discord_objects import Payload, Permission, Snowflakes
from tests.fakes.discord_records import DiscordError, SentMessage, Via, unknown
from tests.fakes.http import UploadedFile

MAX_CONTENT = 2000
MAX_EMBEDS = 10
_FILE_FIELD = re.compile(r"files\[(\d+)\]")


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
        return obj.guild(
            self.id,
            self.name,
            owner_id=self.owner_id,
            roles=list(self.roles.values()),
            channels=list(self.channels.values()),
            threads=list(self.threads.values()),
            members=list(self.members.values()),
        )


class World:
    """Everything the fake Discord knows. Ids are ints here; payloads carry strings."""

    def __init__(self, bot_name: str) -> None:
        self.snowflakes = Snowflakes()
        self.cdn_url = ""
        self.users: dict[int, Payload] = {}
        self.guilds: dict[int, GuildState] = {}
        self.channels: dict[int, Payload] = {}
        self.dms: dict[int, int] = {}
        self.messages: dict[int, Payload] = {}
        self.bot_messages: dict[int, SentMessage] = {}
        self.files: dict[int, UploadedFile] = {}
        self.commands: dict[int | None, list[Payload]] = {}
        self.bot_id = self.add_user(bot_name, bot=True)
        self.owner_id = self.add_user(f"{bot_name}-owner")

    @property
    def bot_user(self) -> Payload:
        return self.users[self.bot_id]

    # Entities.

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
        self, name: str, owner_id: int, bot_permissions: int, everyone: int
    ) -> GuildState:
        guild_id = self.snowflakes.next()
        guild = GuildState(guild_id, name, owner_id)
        guild.roles[guild_id] = obj.role(guild_id, "@everyone", everyone)
        bot_role = self.snowflakes.next()
        guild.roles[bot_role] = obj.role(
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
        member = obj.member(self.user(user_id), roles, joined=self.snowflakes.next(), nick=nick)
        guild.members[user_id] = member
        return member

    def add_role(self, guild_id: int, name: str, permissions: int) -> int:
        guild = self.guild(guild_id)
        role_id = self.snowflakes.next()
        guild.roles[role_id] = obj.role(role_id, name, permissions, position=len(guild.roles))
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
        channel = obj.guild_channel(
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
        thread = obj.thread(thread_id, guild_id, parent_id, owner_id, name, private=private)
        self.guild(guild_id).threads[thread_id] = self.channels[thread_id] = thread
        return thread

    def open_dm(self, user_id: int) -> Payload:
        if user_id not in self.dms:
            channel_id = self.snowflakes.next()
            self.channels[channel_id] = obj.dm_channel(channel_id, self.user(user_id))
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

    # Messages.

    def message(self, message_id: int, channel_id: int | None = None) -> Payload:
        found = self.messages.get(message_id)
        if found is None or (channel_id is not None and int(found["channel_id"]) != channel_id):
            raise unknown("Message", 10008)
        return found

    def author_fields(self, channel_id: int, author_id: int) -> tuple[int | None, Payload | None]:
        """The guild id of a channel and the author's member entry (no `user`) for messages."""
        guild_id = self.guild_id_of(channel_id)
        if guild_id is None:
            recipients = {int(u["id"]) for u in self.channel(channel_id)["recipients"]}
            if author_id not in recipients | {self.bot_id}:
                raise ValueError(f"user {author_id} is not in DM channel {channel_id}")
            return None, None
        member = self.guild(guild_id).members.get(author_id)
        if member is None:
            raise ValueError(f"user {author_id} is not a member of guild {guild_id}")
        return guild_id, {k: v for k, v in member.items() if k != "user"}

    def mention_fields(self, content: str, extra_users: Iterable[int] = ()) -> dict[str, Any]:
        users, roles, everyone = obj.mentioned_ids(content)
        ids = list(dict.fromkeys([*users, *extra_users]))
        mentions = [self.users[u] for u in ids if u in self.users]
        return {"mentions": mentions, "mention_roles": roles, "mention_everyone": everyone}

    def store_file(self, channel_id: int, upload: UploadedFile) -> Payload:
        attachment_id = self.snowflakes.next()
        self.files[attachment_id] = upload
        url = f"{self.cdn_url}/attachments/{channel_id}/{attachment_id}/{upload.filename}"
        guessed = mimetypes.guess_type(upload.filename)[0]
        content_type = guessed or upload.content_type or "application/octet-stream"
        return obj.attachment(attachment_id, upload.filename, len(upload.data), url, content_type)

    def bump_channel(self, channel_id: int, message_id: int) -> None:
        channel = self.channel(channel_id)
        channel["last_message_id"] = str(message_id)
        if channel["type"] in obj.THREAD_TYPES:
            channel["message_count"] += 1
            channel["total_message_sent"] += 1

    def bot_message(
        self,
        channel_id: int,
        body: Payload,
        files: Sequence[UploadedFile],
        *,
        via: Via,
        interaction: Payload | None = None,
    ) -> SentMessage:
        """Build (and store) a message the bot sends, checking it as Discord would."""
        guild_id, member = self.author_fields(channel_id, self.bot_id)
        message_id = self.snowflakes.next()
        referenced = None
        ref = body.get("message_reference")
        if ref and ref.get("message_id") is not None:
            referenced = self.messages.get(int(ref["message_id"]))
            if referenced is None and ref.get("fail_if_not_exists", True):
                problem = (
                    "message_reference",
                    "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                    "Unknown message",
                )
                raise DiscordError.invalid_form([problem])
        extra: Payload = {}
        if interaction is not None:
            meta_user = interaction.get("member", {}).get("user") or interaction.get("user")
            itype = int(interaction["type"])
            extra = {
                "webhook_id": str(interaction["application_id"]),
                "application_id": str(interaction["application_id"]),
                "interaction_metadata": {"id": interaction["id"], "type": itype, "user": meta_user},
            }
        content = body.get("content") or ""
        payload = obj.message(
            message_id,
            channel_id,
            self.bot_user,
            content,
            guild_id=guild_id,
            author_member=member,
            attachments=self._attachments(channel_id, body, files, []),
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            flags=int(body.get("flags") or 0),
            referenced=referenced,
            message_type=20 if interaction is not None and referenced is None else None,
            extra=extra,
        )
        payload |= self.mention_fields(content)
        _check_message(payload, files)
        sent = SentMessage(payload, via, body.get("allowed_mentions"), list(files))
        if interaction is not None:
            sent.interaction_id = int(interaction["id"])
        self.messages[message_id] = payload
        self.bot_messages[message_id] = sent
        if not sent.ephemeral:
            self.bump_channel(channel_id, message_id)
        return sent

    def edit_bot_message(
        self, sent: SentMessage, body: Payload, files: Sequence[UploadedFile]
    ) -> Payload:
        """Apply an edit body (PATCH) to one of the bot's messages; return the new payload."""
        if sent.deleted:
            raise unknown("Message", 10008)
        new = dict(sent.payload)
        for key in ("content", "embeds", "components"):
            if key in body:
                new[key] = body[key] or ([] if key != "content" else "")
        if "content" in body:
            new |= self.mention_fields(new["content"])
        if "flags" in body and body["flags"] is not None:
            new["flags"] = (sent.flags & (obj.EPHEMERAL)) | int(body["flags"])
        new["flags"] &= ~obj.LOADING
        if "attachments" in body or files:
            kept = [] if "attachments" in body else list(new["attachments"])
            new["attachments"] = self._attachments(sent.channel_id, body, files, kept, sent)
        if body.get("allowed_mentions") is not None:
            sent.allowed_mentions = body["allowed_mentions"]
        _check_message(new, files)
        new["edited_timestamp"] = obj.timestamp()
        sent.payload = new
        sent.edits.append(body)
        sent.files.extend(files)
        self.messages[sent.id] = new
        return new

    def _attachments(
        self,
        channel_id: int,
        body: Payload,
        files: Sequence[UploadedFile],
        kept: list[Payload],
        sent: SentMessage | None = None,
    ) -> list[Payload]:
        """Attachments after a send or edit: kept existing ones, then the uploaded files."""
        by_index: dict[int, UploadedFile] = {}
        for upload in files:
            match = _FILE_FIELD.fullmatch(upload.field)
            if match:
                by_index[int(match.group(1))] = upload
        existing = {a["id"]: a for a in (sent.attachments if sent else [])}
        result = list(kept)
        used: set[int] = set()
        for entry in body.get("attachments") or []:
            key = str(entry.get("id"))
            if key in existing:
                result.append(existing[key])
            elif key.isdigit() and int(key) in by_index:
                used.add(int(key))
                result.append(self.store_file(channel_id, by_index[int(key)]))
        for index in sorted(set(by_index) - used):
            result.append(self.store_file(channel_id, by_index[index]))
        return result

    # Application commands.

    def put_commands(self, application_id: int, guild_id: int | None, body: Any) -> list[Payload]:
        if not isinstance(body, list):
            raise DiscordError.invalid_form([("_", "BASE_TYPE_ARRAY", "Must be an array.")])
        problems: list[tuple[str, str, str]] = []
        names: set[tuple[str, int]] = set()
        for index, command in enumerate(body):
            _command_problems(command, str(index), problems)
            key = (command.get("name", ""), command.get("type", 1))
            if key in names:
                problems.append((str(index), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Duplicate"))
            names.add(key)
        if problems:
            raise DiscordError.invalid_form(problems)
        old = {(c["name"], c["type"]): c["id"] for c in self.commands.get(guild_id, [])}
        stored = []
        for command in body:
            ctype = command.get("type", 1)
            cid = old.get((command["name"], ctype)) or str(self.snowflakes.next())
            full = {
                "id": cid,
                "application_id": str(application_id),
                "version": str(self.snowflakes.next()),
                "type": ctype,
                "description": "",
                "default_member_permissions": None,
                "nsfw": False,
                **command,
            }
            if full["default_member_permissions"] is not None:
                full["default_member_permissions"] = str(full["default_member_permissions"])
            if guild_id is not None:
                full["guild_id"] = str(guild_id)
            stored.append(full)
        self.commands[guild_id] = stored
        return stored

    def find_command(self, name: str, guild_id: int | None, ctype: int = 1) -> Payload:
        """The registered command a user in `guild_id` (None: a DM) would pick by `name`."""
        scopes = [guild_id, None] if guild_id is not None else [None]
        for scope in scopes:
            for command in self.commands.get(scope, []):
                if command["name"] == name and command["type"] == ctype:
                    return command
        known = sorted(c["name"] for s in scopes for c in self.commands.get(s, []))
        raise ValueError(f"no command /{name} registered for guild {guild_id}; known: {known}")


def _check_message(payload: Payload, files: Sequence[UploadedFile]) -> None:
    problems = []
    if len(payload["content"]) > MAX_CONTENT:
        message = f"Must be {MAX_CONTENT} or fewer in length."
        problems.append(("content", "BASE_TYPE_MAX_LENGTH", message))
    if len(payload["embeds"]) > MAX_EMBEDS:
        problems.append(("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length."))
    if problems:
        raise DiscordError.invalid_form(problems)
    if not (payload["flags"] & obj.LOADING) and not any(
        (payload["content"], payload["embeds"], payload["components"], payload["attachments"])
    ):
        raise DiscordError(400, 50006, "Cannot send an empty message")


_NAME = re.compile(r"^[-_'\w]{1,32}$")


def _command_problems(item: Payload, path: str, problems: list[tuple[str, str, str]]) -> None:
    """Check a command or option the way Discord's bulk overwrite does (the common rules)."""
    name = item.get("name", "")
    is_chat = item.get("type", 1) == 1 or "options" in item or path.count(".") > 0
    if not _NAME.match(name) or (is_chat and name != name.lower()):
        problems.append((f"{path}.name", "APPLICATION_COMMAND_INVALID_NAME", "Invalid name"))
    description = item.get("description", "")
    if is_chat and not 1 <= len(description) <= 100:
        message = "Must be between 1 and 100 in length."
        problems.append((f"{path}.description", "BASE_TYPE_BAD_LENGTH", message))
    options = item.get("options") or []
    if len(options) > 25:
        problems.append((f"{path}.options", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer."))
    optional_seen = False
    for index, option in enumerate(options):
        opath = f"{path}.options.{index}"
        _command_problems(option, opath, problems)
        if option.get("type") in (1, 2):
            continue
        if option.get("required") and optional_seen:
            message = "Required options must be placed before non-required options"
            problems.append((opath, "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", message))
        optional_seen = optional_seen or not option.get("required")
        if len(option.get("choices") or []) > 25:
            problems.append((f"{opath}.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer."))
