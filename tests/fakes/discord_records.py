"""What the fake Discord records about the bot: its messages, interaction responses, errors.

Tests read these objects (through `FakeDiscord`) to assert on what the bot did: each
`SentMessage` holds the message's current state after edits plus what was asked for
(allowed_mentions, uploaded files); each `InteractionRecord` holds the callbacks, the original
response message and the follow-ups of one interaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tests.fakes.discord_objects import EPHEMERAL, LOADING, Payload, mentioned_ids
from tests.fakes.http import UploadedFile


class DiscordError(Exception):
    """An error answer in Discord's shape: ``{"message": ..., "code": ...[, "errors": ...]}``."""

    def __init__(self, status: int, code: int, message: str, errors: Any = None) -> None:
        super().__init__(f"{status} {message} (code {code})")
        self.status = status
        self.body: Payload = {"message": message, "code": code}
        if errors is not None:
            self.body["errors"] = errors

    @classmethod
    def invalid_form(cls, problems: list[tuple[str, str, str]]) -> DiscordError:
        """400 Invalid Form Body from (dotted path, error code, message) triples."""
        errors: Payload = {}
        for path, code, message in problems:
            node = errors
            for key in path.split("."):
                node = node.setdefault(key, {})
            node.setdefault("_errors", []).append({"code": code, "message": message})
        return cls(400, 50035, "Invalid Form Body", errors)


def unknown(what: str, code: int) -> DiscordError:
    return DiscordError(404, code, f"Unknown {what}")


@dataclass(frozen=True)
class Pings:
    """Who a message actually notifies, given its content and allowed_mentions."""

    users: frozenset[int]
    roles: frozenset[int]
    everyone: bool

    def __bool__(self) -> bool:
        return bool(self.users or self.roles or self.everyone)


Via = Literal["channel", "interaction", "followup", "webhook"]


@dataclass(eq=False)
class SentMessage:
    """A message the bot created, in its current state.

    `payload` is the message object as Discord would return it now (after edits). `via` says
    which endpoint made it: ``channel`` (POST /channels/{id}/messages), ``interaction`` (an
    interaction's original response) or ``followup``. `edits` holds each edit's request body in
    order; `files` every file uploaded for it (across edits).
    """

    payload: Payload
    via: Via
    allowed_mentions: Payload | None = None
    files: list[UploadedFile] = field(default_factory=list)
    interaction_id: int | None = None
    deleted: bool = False
    edits: list[Payload] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def channel_id(self) -> int:
        return int(self.payload["channel_id"])

    @property
    def content(self) -> str:
        return str(self.payload["content"])

    @property
    def embeds(self) -> list[Payload]:
        return list(self.payload["embeds"])

    @property
    def components(self) -> list[Payload]:
        return list(self.payload["components"])

    @property
    def flags(self) -> int:
        return int(self.payload["flags"])

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True for a deferred response ("thinking...") not yet filled in."""
        return bool(self.flags & LOADING)

    @property
    def message_reference(self) -> Payload | None:
        return self.payload.get("message_reference")

    @property
    def reply_to(self) -> int | None:
        """The id of the message this one replies to, if any."""
        ref = self.message_reference
        return int(ref["message_id"]) if ref else None

    @property
    def attachments(self) -> list[Payload]:
        return list(self.payload["attachments"])

    def file(self, filename: str) -> bytes:
        """The bytes of the attached file called `filename` (the latest upload of that name)."""
        for upload in reversed(self.files):
            if upload.filename == filename:
                return upload.data
        names = [f.filename for f in self.files]
        raise KeyError(f"no file {filename!r} on message {self.id}; files: {names}")

    def custom_ids(self) -> list[str]:
        """The custom_id of every component on the message, in order."""
        found: list[str] = []

        def walk(items: list[Payload]) -> None:
            for item in items:
                if "custom_id" in item:
                    found.append(item["custom_id"])
                walk(item.get("components", []))

        walk(self.components)
        return found

    def pings(self) -> Pings:
        """Who Discord would notify for this message (content mentions x allowed_mentions)."""
        users, roles, everyone = mentioned_ids(self.content)
        am = self.allowed_mentions
        parse = {"users", "roles", "everyone"} if am is None else set(am.get("parse") or [])
        allowed_users = {int(u) for u in (am or {}).get("users") or []}
        allowed_roles = {int(r) for r in (am or {}).get("roles") or []}
        pinged = {u for u in users if "users" in parse or u in allowed_users}
        replied = self.payload.get("referenced_message")
        if replied and (am is None or am.get("replied_user")):
            pinged.add(int(replied["author"]["id"]))
        return Pings(
            users=frozenset(pinged),
            roles=frozenset(r for r in roles if "roles" in parse or r in allowed_roles),
            everyone=everyone and "everyone" in parse,
        )


@dataclass(eq=False)
class InteractionRecord:
    """One interaction the fake sent (INTERACTION_CREATE) and everything the bot answered.

    `callbacks` are the bodies of ``POST /interactions/{id}/{token}/callback`` in order
    (``{"type": 4, "data": {...}}``); Discord accepts only the first, later ones get 400.
    `original` is the original response message (made by callback type 4 or 5, filled in by
    editing ``@original`` or by the first follow-up after a defer); `followups` are the other
    messages sent through the interaction webhook.
    """

    payload: Payload
    created: float
    callbacks: list[Payload] = field(default_factory=list)
    files: list[UploadedFile] = field(default_factory=list)
    original: SentMessage | None = None
    followups: list[SentMessage] = field(default_factory=list)
    rejected: list[Payload] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def token(self) -> str:
        return str(self.payload["token"])

    @property
    def type(self) -> int:
        return int(self.payload["type"])

    @property
    def channel_id(self) -> int:
        return int(self.payload["channel_id"])

    @property
    def guild_id(self) -> int | None:
        gid = self.payload.get("guild_id")
        return int(gid) if gid is not None else None

    @property
    def user_id(self) -> int:
        user = self.payload["member"]["user"] if "member" in self.payload else self.payload["user"]
        return int(user["id"])

    @property
    def component_message_id(self) -> int | None:
        message = self.payload.get("message")
        return int(message["id"]) if message else None

    @property
    def response(self) -> Payload | None:
        """The accepted callback, if the bot has answered."""
        return self.callbacks[0] if self.callbacks else None

    @property
    def response_type(self) -> int | None:
        return int(self.callbacks[0]["type"]) if self.callbacks else None

    @property
    def ephemeral(self) -> bool:
        """Whether the response (message or defer) was ephemeral."""
        data = (self.response or {}).get("data") or {}
        return bool(int(data.get("flags") or 0) & EPHEMERAL)

    @property
    def messages(self) -> list[SentMessage]:
        """The original response (if any) then the follow-ups, current state."""
        return ([self.original] if self.original else []) + self.followups

    @property
    def choices(self) -> list[Payload]:
        """The choices of an autocomplete answer (callback type 8)."""
        data = (self.response or {}).get("data") or {}
        return list(data.get("choices") or [])
