"""Pointing discord.py at a Discord-compatible server (DISCORD_API_BASE, DISCORD_GATEWAY_URL).

discord.py builds every REST URL from the class attribute `discord.http.Route.BASE`, and it
opens its first gateway connection at `DiscordWebSocket.DEFAULT_GATEWAY` without asking
`GET /gateway/bot`. Both are process-wide, so `Endpoints` sets them while a bot runs and puts
the previous values back when it closes.
"""

from __future__ import annotations

import logging

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import HTTPClient, Route

from bot.config import DISCORD_API_BASE

log = logging.getLogger(__name__)


class Endpoints:
    """Where REST and the gateway are; `apply()` before login, `restore()` after close."""

    def __init__(self, api_base: str, gateway_url: str | None) -> None:
        self.api_base = api_base.rstrip("/")
        self.gateway_url = gateway_url
        self._saved: tuple[str, yarl.URL] | None = None

    @property
    def custom(self) -> bool:
        """True when the REST API is not Discord's own."""
        return self.api_base != DISCORD_API_BASE

    def apply(self) -> None:
        """Send REST requests to `api_base` (and the gateway to `gateway_url`, if given)."""
        if self._saved is None:
            self._saved = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        Route.BASE = self.api_base
        if self.gateway_url is not None:
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)

    async def discover_gateway(self, http: HTTPClient) -> None:
        """With a custom REST API and no gateway URL, connect where `/gateway/bot` says."""
        if self.gateway_url is not None or not self.custom:
            return
        _shards, url, _limits = await http.get_bot_gateway()
        log.info("gateway of %s is %s", self.api_base, url)
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)

    def restore(self) -> None:
        if self._saved is not None:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None
