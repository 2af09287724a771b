"""The fake Discord's webhooks: create, list, delete, execute, and the messages they post.

Discord's rules that a bot like ours can trip over are applied:

- creating or listing a channel's webhooks needs Manage Webhooks (403 50013 otherwise) and a
  channel that has webhooks (text, announcement, voice, stage, forum: 400 50024 for a thread
  or a DM); a channel holds at most 15 webhooks (400 30007 "Maximum number of webhooks
  reached (15)"); a name is 1 to 80 characters without "clyde" or "discord";
- a webhook created by the bot is application-owned (`application_id` set): it alone can
  post components; the others' components are dropped;
- execute (``POST /webhooks/{id}/{token}``) answers 204 without ``wait=true``, the message
  with it; ``thread_id`` posts in a thread of the webhook's channel (400 220001 without one
  in a forum); ``username`` and ``avatar_url`` override the webhook's name and avatar for
  that message; there is no nonce, and a message reference is ignored;
- a webhook's message can be fetched, edited and deleted only through that webhook (and the
  same ``thread_id``); MESSAGE_CREATE/UPDATE/DELETE go out as for any message, with
  ``webhook_id``.

`lose_answers` makes the next executes take effect and then drop the connection unanswered:
the case no client can tell from a request that never arrived.

The interaction routes share the path ``/webhooks/{app}/{token}``: `dispatch` sends a request
there when its id is one of these webhooks, to the interaction handler otherwise.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from tests.fakes import discord_objects as obj
from tests.fakes.discord_objects import Payload, Permission
from tests.fakes.discord_records import DiscordError, SentMessage, unknown
from tests.fakes.discord_rest import RECORDED, reply

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscord

API = "/api/v10"
MAX_PER_CHANNEL = 15
HOOKABLE = frozenset({obj.GUILD_TEXT, obj.GUILD_ANNOUNCEMENT, 2, 13, obj.GUILD_FORUM})
_DATA_URI = re.compile(r"data:image/(png|jpeg|jpg|gif|webp);base64,(.+)", re.DOTALL)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(eq=False)
class WebhookMessage(SentMessage):
    """A message a webhook posted: which webhook, and the name and avatar it showed."""

    webhook_id: int = 0
    username: str = ""
    avatar_url: str | None = None


@dataclass
class Hook:
    """One webhook: its payload (with token) and its avatar image, if it has one."""

    payload: Payload
    image: bytes | None = None

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def channel_id(self) -> int:
        return int(self.payload["channel_id"])

    @property
    def app_owned(self) -> bool:
        return self.payload.get("application_id") is not None


class FakeWebhooks:
    """Every webhook of one fake Discord and the messages they posted."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.world = fake.world
        self.hooks: dict[int, Hook] = {}
        self.messages: dict[int, WebhookMessage] = {}
        self.lose_answers = 0  # executes that take effect, then lose their connection

    # Test API -----------------------------------------------------------------------------

    def add(self, channel_id: int, name: str, *, user_id: int | None = None) -> Hook:
        """A webhook someone else made in `channel_id` (e.g. to fill it up to the limit)."""
        creator = user_id if user_id is not None else self.world.owner_id
        return self._create(channel_id, name, None, creator, app_owned=False)

    def in_channel(self, channel_id: int) -> list[Hook]:
        return [h for h in self.hooks.values() if h.channel_id == channel_id]

    def sent(
        self, channel_id: int | None = None, *, include_deleted: bool = False
    ) -> list[WebhookMessage]:
        """The webhook messages in `channel_id` (a channel or thread; None: all), oldest first."""
        return [
            m
            for m in self.messages.values()
            if (channel_id is None or m.channel_id == channel_id)
            and (include_deleted or not m.deleted)
        ]

    def app_message(self, message_id: int) -> WebhookMessage | None:
        """A message of a webhook the bot made: its components reach the bot when clicked."""
        sent = self.messages.get(message_id)
        return sent if sent is not None and "application_id" in sent.payload else None

    # Routes -------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_post(f"{API}/channels/{{channel}}/webhooks", self.create)
        r.add_get(f"{API}/channels/{{channel}}/webhooks", self.list_channel)
        r.add_get(f"{API}/webhooks/{{webhook}}", self.get_hook)
        r.add_delete(f"{API}/webhooks/{{webhook}}", self.delete_hook)

    def dispatch(self, webhook_handler: Handler, interaction_handler: Handler) -> Handler:
        """A handler for ``/webhooks/{app}/{token}...``: a webhook's, else an interaction's."""

        async def handler(request: web.Request) -> web.StreamResponse:
            if request.match_info["app"].isdigit() and int(request.match_info["app"]) in self.hooks:
                return await webhook_handler(request)
            return await interaction_handler(request)

        return handler

    async def create(self, request: web.Request) -> web.Response:
        channel_id = self._channel(request)
        body = self._body(request)
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 80:
            problem = ("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length.")
            raise DiscordError.invalid_form([problem])
        if any(word in name.lower() for word in ("clyde", "discord")):
            problem = ("name", "WEBHOOK_INVALID_NAME", "Webhook names cannot contain that.")
            raise DiscordError.invalid_form([problem])
        if len(self.in_channel(channel_id)) >= MAX_PER_CHANNEL:
            raise DiscordError(400, 30007, "Maximum number of webhooks reached (15)")
        image = _image(body.get("avatar"))
        hook = self._create(channel_id, name, image, self.world.bot_id, app_owned=True)
        return _json(self._visible(hook), 200)

    async def list_channel(self, request: web.Request) -> web.Response:
        channel_id = self._channel(request)
        return _json([self._visible(hook) for hook in self.in_channel(channel_id)])

    async def get_hook(self, request: web.Request) -> web.Response:
        self._bot_auth(request)
        hook = self._hook(request)
        self._require_manage(hook.channel_id)
        return _json(self._visible(hook))

    async def delete_hook(self, request: web.Request) -> web.Response:
        self._bot_auth(request)
        hook = self._hook(request)
        self._require_manage(hook.channel_id)
        del self.hooks[hook.id]
        return _json(None, 204)

    async def execute(self, request: web.Request) -> web.Response:
        recorded = request[RECORDED]
        hook = self._hook(request, token=True)
        body = dict(recorded.body or {})
        target = self._target(hook, recorded.query.get("thread_id"))
        username = body.get("username")
        if username is not None and (
            not 1 <= len(username) <= 80
            or any(word in username.lower() for word in ("clyde", "discord"))
        ):
            problem = ("username", "USERNAME_INVALID", "Username is invalid.")
            raise DiscordError.invalid_form([problem])
        body.pop("message_reference", None)  # webhooks cannot reply
        if not hook.app_owned and not _true(recorded.query.get("with_components")):
            body.pop("components", None)
        sent = self._post(hook, target, body, username, body.get("avatar_url"), recorded.files)
        self.fake.dispatch_echo("MESSAGE_CREATE", sent)
        if self.lose_answers:  # made, but the connection drops before the answer
            self.lose_answers -= 1
            if request.transport is not None:
                request.transport.close()
        if _true(recorded.query.get("wait")):
            return _json(sent.payload)
        return _json(None, 204)

    async def get_message(self, request: web.Request) -> web.Response:
        return _json(self._message(request).payload)

    async def edit_message(self, request: web.Request) -> web.Response:
        recorded = request[RECORDED]
        sent = self._message(request)
        self.world.edit_bot_message(sent, recorded.body or {}, recorded.files)
        self.fake.dispatch_echo("MESSAGE_UPDATE", sent)
        return _json(sent.payload)

    async def delete_message(self, request: web.Request) -> web.Response:
        sent = self._message(request)
        sent.deleted = True
        self.world.messages.pop(sent.id, None)
        self.fake.dispatch_delete(sent.payload)
        return _json(None, 204)

    # Helpers ------------------------------------------------------------------------------

    def _create(
        self, channel_id: int, name: str, image: bytes | None, creator: int, *, app_owned: bool
    ) -> Hook:
        hook_id = self.world.snowflakes.next()
        payload: Payload = {
            "id": str(hook_id),
            "type": 1,
            "guild_id": str(self.world.guild_id_of(channel_id)),
            "channel_id": str(channel_id),
            "user": self.world.user(creator),
            "name": name,
            "avatar": hashlib.md5(image).hexdigest() if image else None,
            "token": secrets.token_urlsafe(48),
            "application_id": str(self.world.bot_id) if app_owned else None,
        }
        hook = Hook(payload, image)
        self.hooks[hook_id] = hook
        return hook

    def _visible(self, hook: Hook) -> Payload:
        """The webhook as the bot sees it: the token only of an incoming webhook."""
        return dict(hook.payload)

    def _channel(self, request: web.Request) -> int:
        channel_id = _id(request, "channel")
        channel = self.world.channel(channel_id)
        if channel["type"] not in HOOKABLE:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        self._require_manage(channel_id)
        return channel_id

    def _require_manage(self, channel_id: int) -> None:
        guild_id = self.world.guild_id_of(channel_id)
        assert guild_id is not None
        if not self.world.permissions(guild_id, self.world.bot_id) & Permission.MANAGE_WEBHOOKS:
            raise DiscordError(403, 50013, "Missing Permissions")

    def _bot_auth(self, request: web.Request) -> None:
        given = request.headers.get("Authorization", "")
        expected = self.fake.token
        if not given.startswith("Bot ") or (expected and given != f"Bot {expected}"):
            raise DiscordError(401, 0, "401: Unauthorized")

    def _hook(self, request: web.Request, *, token: bool = False) -> Hook:
        key = "app" if token else "webhook"
        hook = self.hooks.get(_id(request, key))
        if hook is None or (token and request.match_info["token"] != hook.payload["token"]):
            raise unknown("Webhook", 10015)
        return hook

    def _target(self, hook: Hook, thread_id: str | None) -> int:
        """The channel a message goes to: the webhook's, or a thread of it."""
        channel = self.world.channel(hook.channel_id)
        if thread_id is None:
            if channel["type"] == obj.GUILD_FORUM:
                message = "Webhooks posted to forum channels must have a thread_name or thread_id"
                raise DiscordError(400, 220001, message)
            return hook.channel_id
        if not thread_id.isdigit():
            raise DiscordError.invalid_form(
                [("thread_id", "NUMBER_TYPE_COERCE", "Not a snowflake")]
            )
        thread = self.world.channels.get(int(thread_id))
        if thread is None or thread.get("parent_id") != str(hook.channel_id):
            raise unknown("Channel", 10003)
        return int(thread_id)

    def _post(
        self,
        hook: Hook,
        channel_id: int,
        body: Payload,
        username: str | None,
        avatar_url: str | None,
        files: list[object],
    ) -> WebhookMessage:
        base = self.world.bot_message(channel_id, body, files, via="channel")  # type: ignore[arg-type]
        del self.world.bot_messages[base.id]  # a webhook's message, not the bot user's
        author = {
            "id": str(hook.id),
            "username": username or hook.payload["name"],
            "avatar": None if avatar_url else hook.payload["avatar"],
            "discriminator": "0000",
            "bot": True,
        }
        payload = base.payload | {"author": author, "webhook_id": str(hook.id), "type": 0}
        payload.pop("member", None)
        payload.pop("message_reference", None)
        payload.pop("referenced_message", None)
        if hook.app_owned:
            payload["application_id"] = hook.payload["application_id"]
        self.world.messages[base.id] = payload
        sent = WebhookMessage(
            payload,
            "webhook",
            base.allowed_mentions,
            base.files,
            webhook_id=hook.id,
            username=author["username"],
            avatar_url=avatar_url,
        )
        self.messages[sent.id] = sent
        return sent

    def _message(self, request: web.Request) -> WebhookMessage:
        hook = self._hook(request, token=True)
        sent = self.messages.get(_id(request, "message"))
        thread_id = request[RECORDED].query.get("thread_id")
        where = int(thread_id) if thread_id and thread_id.isdigit() else hook.channel_id
        if sent is None or sent.deleted or sent.webhook_id != hook.id or sent.channel_id != where:
            raise unknown("Message", 10008)
        return sent

    def _body(self, request: web.Request) -> Payload:
        body = request[RECORDED].body
        return body if isinstance(body, dict) else {}


def _image(value: object) -> bytes | None:
    """The bytes of an avatar given as a data URI (None when not given)."""
    if value is None:
        return None
    match = _DATA_URI.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise DiscordError.invalid_form([("avatar", "IMAGE_INVALID", "Invalid image data")])
    try:
        return base64.b64decode(match.group(2), validate=True)
    except binascii.Error:
        raise DiscordError.invalid_form(
            [("avatar", "IMAGE_INVALID", "Invalid image data")]
        ) from None


def _true(value: str | None) -> bool:
    return value in ("1", "true", "True")


def _json(body: object, status: int = 200) -> web.Response:
    return reply(body, status)


def _id(request: web.Request, name: str) -> int:
    value = request.match_info[name]
    if not value.isdigit():
        raise DiscordError(400, 50035, f"Value {value!r} is not snowflake.")
    return int(value)
