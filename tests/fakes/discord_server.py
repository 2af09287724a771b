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

`FakeDiscord` gathers its parts: building the world (`discord_live_world.LiveWorld`), what
users do (`discord_user_events.UserEvents`), the REST routes (`discord_rest`) and the gateway
(`discord_gateway`); this module adds what the bot did and the waits.
"""

from __future__ import annotations

from typing import Self

from aiohttp import web

from tests.fakes.discord_faults import Faults, matches
from tests.fakes.discord_gateway import Gateway
from tests.fakes.discord_objects import Payload, Permission
from tests.fakes.discord_records import DiscordError, InteractionRecord, SentMessage
from tests.fakes.discord_rest import API, RestAPI
from tests.fakes.discord_user_events import UserEvents
from tests.fakes.discord_webhooks import FakeWebhooks
from tests.fakes.discord_world import World
from tests.fakes.http import RecordedRequest

__all__ = [
    "DiscordError",
    "FakeDiscord",
    "InteractionRecord",
    "Payload",
    "Permission",
    "SentMessage",
]


class FakeDiscord(UserEvents):
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
        self.faults = Faults()  # 429s and 5xx a test arms (see discord_faults)
        self.webhooks = FakeWebhooks(self)  # before `rest`, whose webhook paths it shares
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
        self.webhooks.add_routes(app)

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

    def requests_to(self, method: str | None, route: str | None = None) -> list[RecordedRequest]:
        """The REST requests to a route template (``/channels/{channel}/messages``), in order,
        whatever their answer (faults included)."""
        return [request for request in self.requests if matches(request, method, route)]

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
