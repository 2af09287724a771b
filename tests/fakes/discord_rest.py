"""The fake Discord's REST API (v10 JSON), the routes discord.py calls for a bot like ours.

Handlers answer with Discord's JSON shapes and status codes (204 for typing and deletes) and
echo the bot's own messages over the gateway (MESSAGE_CREATE/UPDATE/DELETE) as Discord does.
A middleware records every request, answers unknown routes with a recorded 404 JSON, checks
the bot token, and turns a bug in the fake into a recorded 400 (not a 500: discord.py retries
those with back-off, which would only make a broken test slow). Every response's status is
recorded too, and a 5xx that slips past the middleware anyway (aiohttp's own error page) is
kept in `server_errors`, which `assert_no_errors()` checks (a 5xx a test injected through
`FakeDiscord.faults` is not). A message create with `enforce_nonce` is not repeated.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes import discord_objects as obj
from tests.fakes.discord_faults import Nonces
from tests.fakes.discord_history import channel_history
from tests.fakes.discord_objects import Payload
from tests.fakes.discord_records import DiscordError, InteractionRecord, SentMessage, unknown
from tests.fakes.http import RecordedRequest

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscord

log = logging.getLogger(__name__)

API = "/api/v10"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_NO_AUTH = (f"{API}/interactions/", f"{API}/webhooks/", "/attachments/", "/gateway")
#: The request's record, for the handlers (a typed key: aiohttp warns about string keys).
RECORDED = web.RequestKey("recorded", RecordedRequest)


def reply(body: Any, status: int = 200) -> web.Response:
    """A JSON response with exactly ``Content-Type: application/json`` (what discord.py checks)."""
    if status == 204:
        return web.Response(status=204)
    return web.Response(
        body=json.dumps(body).encode(), status=status, content_type="application/json"
    )


class RestAPI:
    """The REST routes, bound to one FakeDiscord."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.world = fake.world
        self._nonces = Nonces(fake.world)

    def add_routes(self, app: web.Application) -> None:
        app.middlewares.append(self._middleware)
        app.middlewares.append(self.fake.faults.middleware(RECORDED))  # after the auth check
        app.on_response_prepare.append(self._responding)
        r = app.router
        r.add_get(f"{API}/gateway", self.get_gateway)
        r.add_get(f"{API}/gateway/bot", self.get_gateway)
        r.add_get(f"{API}/users/@me", self.get_me)
        r.add_post(f"{API}/users/@me/channels", self.open_dm)
        r.add_get(f"{API}/users/{{user_id}}", self.get_user)
        r.add_get(f"{API}/oauth2/applications/@me", self.get_application)
        r.add_get(f"{API}/applications/@me", self.get_application)
        for path in ("/applications/{app}/commands", "/applications/{app}/guilds/{guild}/commands"):
            r.add_get(f"{API}{path}", self.get_commands)
            r.add_put(f"{API}{path}", self.put_commands)
        r.add_get(f"{API}/channels/{{channel}}", self.get_channel)
        r.add_get(f"{API}/channels/{{channel}}/messages", self.get_messages)
        r.add_post(f"{API}/channels/{{channel}}/messages", self.post_message)
        r.add_get(f"{API}/channels/{{channel}}/messages/{{message}}", self.get_message)
        r.add_patch(f"{API}/channels/{{channel}}/messages/{{message}}", self.edit_message)
        r.add_delete(f"{API}/channels/{{channel}}/messages/{{message}}", self.delete_message)
        r.add_post(f"{API}/channels/{{channel}}/typing", self.typing)
        r.add_put(f"{API}/channels/{{channel}}/thread-members/@me", self.join_thread)
        r.add_post(f"{API}/channels/{{channel}}/messages/{{message}}/threads", self.thread)
        r.add_post(f"{API}/channels/{{channel}}/threads", self.thread)
        r.add_post(f"{API}/interactions/{{interaction}}/{{token}}/callback", self.callback)
        hooks = self.fake.webhooks  # a webhook's routes share these paths (discord_webhooks)
        execute = hooks.dispatch(hooks.execute, self.followup)
        r.add_post(f"{API}/webhooks/{{app}}/{{token}}", execute)
        hook_message = f"{API}/webhooks/{{app}}/{{token}}/messages/{{message}}"
        r.add_get(hook_message, hooks.dispatch(hooks.get_message, self.get_hook_message))
        r.add_patch(hook_message, hooks.dispatch(hooks.edit_message, self.edit_hook_message))
        r.add_delete(hook_message, hooks.dispatch(hooks.delete_message, self.delete_hook_message))
        r.add_get("/attachments/{channel}/{attachment}/{filename}", self.cdn)
        r.add_get("/gateway", self.fake.gateway.handle)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            recorded = await self.fake.record(request)
            if recorded.form.get("payload_json"):
                recorded.body = json.loads(recorded.form["payload_json"])
        except Exception as exc:
            return self._fake_bug(request, exc)
        request[RECORDED] = recorded
        if not request.path.startswith(_NO_AUTH):
            given = recorded.headers.get("authorization", "")
            expected = self.fake.token
            if not given.startswith("Bot ") or (expected and given != f"Bot {expected}"):
                return reply({"message": "401: Unauthorized", "code": 0}, 401)
        try:
            response = await handler(request)
        except DiscordError as exc:
            response = reply(exc.body, exc.status)
        except web.HTTPException as exc:
            if exc.status not in (404, 405):
                raise
            self.fake.unknown_requests.append(recorded)
            message = f"fake Discord has no route {request.method} {request.path}"
            response = reply({"message": message, "code": 0}, 404)
        except Exception as exc:
            response = self._fake_bug(request, exc)
        recorded.outcome = "answered" if response.status < 400 else "failed"
        return response

    def _fake_bug(self, request: web.Request, exc: Exception) -> web.Response:
        log.exception("fake Discord failed on %s %s", request.method, request.path)
        self.fake.errors.append(traceback.format_exc())
        return reply({"message": f"fake Discord bug: {exc!r}", "code": 0}, 400)

    async def _responding(self, request: web.Request, response: web.StreamResponse) -> None:
        """Record every status, including aiohttp's own 500 for an exception nobody caught."""
        recorded = request.get(RECORDED)
        if recorded is not None:
            recorded.status = response.status
        if request.path.startswith(API):
            response.headers["Via"] = "1.1 google"  # Discord answers through Google's proxy
        if response.status >= 500 and (recorded is None or recorded.injected is None):
            self.fake.server_errors.append(f"{request.method} {request.path}: {response.status}")

    # Identity and commands.

    async def get_gateway(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return reply({"url": self.fake.gateway_url, "shards": 1, "session_start_limit": limit})

    async def get_me(self, request: web.Request) -> web.Response:
        return reply(self.world.bot_user)

    async def get_user(self, request: web.Request) -> web.Response:
        return reply(self.world.user(_id(request, "user_id")))

    async def get_application(self, request: web.Request) -> web.Response:
        owner = self.world.user(self.world.owner_id)
        return reply(obj.application(self.world.bot_id, self.world.bot_user, owner))

    async def get_commands(self, request: web.Request) -> web.Response:
        return reply(self.world.commands.get(self._command_scope(request), []))

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        stored = self.world.put_commands(self.world.bot_id, scope, _record(request).body)
        self.fake.command_syncs.append((scope, stored))
        return reply(stored)

    def _command_scope(self, request: web.Request) -> int | None:
        if _id(request, "app") != self.world.bot_id:
            raise DiscordError(403, 50001, "Missing Access")
        if "guild" not in request.match_info:
            return None
        self.world.guild(_id(request, "guild"))
        return _id(request, "guild")

    # Channels and messages.

    async def get_channel(self, request: web.Request) -> web.Response:
        return reply(self.world.channel(_id(request, "channel")))

    async def open_dm(self, request: web.Request) -> web.Response:
        return reply(self.world.open_dm(int(_record(request).body["recipient_id"])))

    async def post_message(self, request: web.Request) -> web.Response:
        recorded = _record(request)
        body = recorded.body or {}
        earlier = self._nonces.earlier(body)
        if earlier is not None:  # a repeat of a send that went through: no new message
            return reply(earlier.payload)
        sent = self.world.bot_message(_id(request, "channel"), body, recorded.files, via="channel")
        self._nonces.remember(body, sent)
        self.fake.dispatch_echo("MESSAGE_CREATE", sent)
        return reply(sent.payload)

    async def get_messages(self, request: web.Request) -> web.Response:
        """A page of the channel's history (see `discord_history`)."""
        return reply(channel_history(self.world, _id(request, "channel"), request.query))

    async def get_message(self, request: web.Request) -> web.Response:
        return reply(self.world.message(_id(request, "message"), _id(request, "channel")))

    async def edit_message(self, request: web.Request) -> web.Response:
        recorded = _record(request)
        sent = self._own_message(request)
        self.world.edit_bot_message(sent, recorded.body or {}, recorded.files)
        self.fake.dispatch_echo("MESSAGE_UPDATE", sent)
        return reply(sent.payload)

    async def delete_message(self, request: web.Request) -> web.Response:
        message = self.world.message(_id(request, "message"), _id(request, "channel"))
        sent = self.world.bot_messages.get(int(message["id"]))
        if sent is not None:
            sent.deleted = True
        del self.world.messages[int(message["id"])]
        self.fake.dispatch_delete(message)
        return reply(None, 204)

    def _own_message(self, request: web.Request) -> SentMessage:
        message = self.world.message(_id(request, "message"), _id(request, "channel"))
        sent = self.world.bot_messages.get(int(message["id"]))
        if sent is None:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        return sent

    async def typing(self, request: web.Request) -> web.Response:
        channel_id = _id(request, "channel")
        self.world.channel(channel_id)
        self.fake.typing.append(channel_id)
        return reply(None, 204)

    async def join_thread(self, request: web.Request) -> web.Response:
        if self.world.channel(_id(request, "channel"))["type"] not in obj.THREAD_TYPES:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        return reply(None, 204)

    async def thread(self, request: web.Request) -> web.Response:
        body = _record(request).body or {}
        parent_id = _id(request, "channel")
        from_message = "message" in request.match_info
        if from_message:
            self.world.message(_id(request, "message"), parent_id)
        private = body.get("type") == obj.PRIVATE_THREAD and not from_message
        thread = self.world.add_thread(
            parent_id,
            body.get("name", ""),
            self.world.bot_id,
            private=private,
            thread_id=_id(request, "message") if from_message else None,
        )
        thread["thread_metadata"]["auto_archive_duration"] = body.get("auto_archive_duration", 1440)
        self.fake.dispatch_thread(thread)
        starter = body.get("message")
        if starter and self.world.channel(parent_id)["type"] == obj.GUILD_FORUM:
            sent = self.world.bot_message(int(thread["id"]), starter, [], via="channel")
            self.fake.dispatch_echo("MESSAGE_CREATE", sent)
        return reply(thread, 201)

    async def cdn(self, request: web.Request) -> web.Response:
        upload = self.world.files.get(_id(request, "attachment"))
        if upload is None:
            raise web.HTTPNotFound()
        return web.Response(body=upload.data, content_type="application/octet-stream")

    # Interactions.

    async def callback(self, request: web.Request) -> web.Response:
        recorded = _record(request)
        body = recorded.body or {}
        record = self.fake.interactions.get(_id(request, "interaction"))
        if record is None or record.token != request.match_info["token"]:
            raise unknown("interaction", 10062)
        if record.callbacks:
            record.rejected.append(body)
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        deadline = self.fake.interaction_deadline
        if deadline is not None and time.monotonic() - record.created > deadline:
            record.rejected.append(body)
            raise unknown("interaction", 10062)
        ctype = int(body.get("type", 0))
        allowed = {
            obj.APPLICATION_COMMAND: {4, 5, 9},
            obj.MESSAGE_COMPONENT: {4, 5, 6, 7, 9},
            obj.AUTOCOMPLETE: {8},
            obj.MODAL_SUBMIT: {4, 5, 6, 7},
        }[record.type]
        if ctype not in allowed:
            record.rejected.append(body)
            raise DiscordError(400, 50035, f"Interaction response type {ctype} is invalid here")
        data = body.get("data") or {}
        message = None
        if ctype in (obj.CHANNEL_MESSAGE, obj.DEFERRED_CHANNEL_MESSAGE):
            if ctype == obj.DEFERRED_CHANNEL_MESSAGE:
                flags = int(data.get("flags") or 0) & obj.EPHEMERAL
                data = {"flags": flags | obj.LOADING}
            record.original = self.world.bot_message(
                record.channel_id,
                data,
                recorded.files,
                via="interaction",
                interaction=record.payload,
            )
            self.fake.dispatch_echo("MESSAGE_CREATE", record.original)
            message = record.original.payload
        elif ctype == obj.UPDATE_MESSAGE:
            sent = self._component_message(record)
            message = self.world.edit_bot_message(sent, data, recorded.files)
            self.fake.dispatch_echo("MESSAGE_UPDATE", sent)
        record.callbacks.append(body)
        record.files.extend(recorded.files)
        if recorded.query.get("with_response") not in ("1", "true", "True"):
            return reply(None, 204)
        summary: Payload = {"id": str(record.id), "type": record.type}
        if record.original is not None:
            summary["response_message_id"] = str(record.original.id)
            summary["response_message_loading"] = record.original.loading
            summary["response_message_ephemeral"] = record.original.ephemeral
        answer: Payload = {"interaction": summary}
        if message is not None or ctype in (obj.DEFERRED_UPDATE, obj.AUTOCOMPLETE_RESULT):
            answer["resource"] = {"type": ctype} | ({"message": message} if message else {})
        return reply(answer)

    def _component_message(self, record: InteractionRecord) -> SentMessage:
        message_id = record.component_message_id
        sent = self.world.bot_messages.get(message_id) if message_id is not None else None
        sent = sent or (self.fake.webhooks.app_message(message_id) if message_id else None)
        if sent is None:
            raise unknown("Message", 10008)
        return sent

    def _interaction(self, request: web.Request) -> InteractionRecord:
        record = self.fake.interactions_by_token.get(request.match_info["token"])
        if record is None or _id(request, "app") != self.world.bot_id:
            raise unknown("Webhook", 10015)
        return record

    def _hook_message(self, request: web.Request) -> tuple[InteractionRecord, SentMessage]:
        record = self._interaction(request)
        target = request.match_info["message"]
        if target == "@original":
            if record.original is not None:
                return record, record.original
            if record.callbacks and record.type == obj.MESSAGE_COMPONENT:
                return record, self._component_message(record)
            raise unknown("Message", 10008)
        for sent in record.messages:
            if str(sent.id) == target:
                return record, sent
        raise unknown("Message", 10008)

    async def followup(self, request: web.Request) -> web.Response:
        recorded = _record(request)
        record = self._interaction(request)
        if not record.callbacks:
            raise unknown("Webhook", 10015)
        body = recorded.body or {}
        original = record.original
        if original is not None and original.loading:
            # After a defer, the first follow-up fills in the "thinking..." message.
            self.world.edit_bot_message(original, body, recorded.files)
            self.fake.dispatch_echo("MESSAGE_UPDATE", original)
            sent = original
        else:
            sent = self.world.bot_message(
                record.channel_id, body, recorded.files, via="followup", interaction=record.payload
            )
            record.followups.append(sent)
            self.fake.dispatch_echo("MESSAGE_CREATE", sent)
        if recorded.query.get("wait") in ("1", "true", "True"):
            return reply(sent.payload)
        return reply(None, 204)

    async def get_hook_message(self, request: web.Request) -> web.Response:
        _, sent = self._hook_message(request)
        if sent.deleted:
            raise unknown("Message", 10008)
        return reply(sent.payload)

    async def edit_hook_message(self, request: web.Request) -> web.Response:
        recorded = _record(request)
        _, sent = self._hook_message(request)
        self.world.edit_bot_message(sent, recorded.body or {}, recorded.files)
        self.fake.dispatch_echo("MESSAGE_UPDATE", sent)
        return reply(sent.payload)

    async def delete_hook_message(self, request: web.Request) -> web.Response:
        _, sent = self._hook_message(request)
        if sent.deleted:
            raise unknown("Message", 10008)
        sent.deleted = True
        self.world.messages.pop(sent.id, None)
        if not sent.ephemeral:
            self.fake.dispatch_delete(sent.payload)
        return reply(None, 204)


def _record(request: web.Request) -> RecordedRequest:
    return request[RECORDED]


def _id(request: web.Request, name: str) -> int:
    value = request.match_info[name]
    if not value.isdigit():
        raise DiscordError(400, 50035, f"Value {value!r} is not snowflake.")
    return int(value)
