"""The fake Discord's world: its entities, and the messages, files and commands in it.

Plain synchronous state with the rules Discord applies (what a message may hold, what a
command registration must look like). The REST handlers and the test-facing API change it;
the gateway sends it. Users, guilds and channels are in `tests.fakes.discord_entities`.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterable, Sequence
from typing import Any

from tests.fakes import discord_objects as obj
from tests.fakes.discord_entities import Entities, GuildState
from tests.fakes.discord_objects import Payload
from tests.fakes.discord_records import DiscordError, SentMessage, Via, unknown
from tests.fakes.http import UploadedFile

__all__ = ["MAX_CONTENT", "MAX_EMBEDS", "GuildState", "World"]

MAX_CONTENT = 2000
MAX_EMBEDS = 10
_FILE_FIELD = re.compile(r"files\[(\d+)\]")


class World(Entities):
    """Everything the fake Discord knows. Ids are ints here; payloads carry strings."""

    def __init__(self, bot_name: str) -> None:
        super().__init__(bot_name)
        self.cdn_url = ""
        self.messages: dict[int, Payload] = {}
        self.bot_messages: dict[int, SentMessage] = {}
        self.files: dict[int, UploadedFile] = {}
        self.commands: dict[int | None, list[Payload]] = {}

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
