"""Prometheus metrics of one process, and what its health probe needs to know.

`Metrics` is the engine's observer (`bot.engine.events.EngineEvents`) that counts into its own
`CollectorRegistry` (never the global one, so several apps can live in one process). It also
remembers the outcome of the last model call, so that `/healthz` can tell whether the model
answers without spending a token, and it can be told how to ask the Discord gateway's state.
The Discord bot feeds it REST 429s through `rest_trace()`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.engine.events import MODEL_ERROR_KINDS

if TYPE_CHECKING:
    import aiohttp

__all__ = ["CONTENT_TYPE", "GatewayStatus", "Metrics", "ModelOutcome"]

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

# Seconds: local models take a while to start talking, and long replies take minutes.
_LATENCY_BUCKETS: Final = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
_TOKEN_BUCKETS: Final = (250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000)
# Discord's X-RateLimit-Scope values; anything else is counted as "unknown".
_SCOPES: Final = frozenset({"user", "global", "shared"})


@dataclass(frozen=True)
class ModelOutcome:
    """How the last model call went, and when (`time.monotonic()`)."""

    ok: bool
    kind: str | None
    at: float


@dataclass(frozen=True)
class GatewayStatus:
    """The Discord gateway connection of the bot in this process."""

    connected: bool
    latency: float | None  # seconds, the last heartbeat's round trip


class Metrics:
    """Counters, histograms and gauges of one process, in a registry of its own."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry()
        self._clock = clock
        self.last_model: ModelOutcome | None = None
        self.gateway: Callable[[], GatewayStatus] | None = None
        self._build_turn_metrics()
        self._build_state_metrics()

    def _build_turn_metrics(self) -> None:
        registry = self.registry
        self.messages_in = Counter(
            "sessionbot_messages_received", "Messages from people stored", registry=registry
        )
        self.replies_out = Counter(
            "sessionbot_replies_sent",
            "Replies the model finished and were stored",
            registry=registry,
        )
        self.first_token_seconds = Histogram(
            "sessionbot_reply_first_token_seconds",
            "Seconds from asking the model to its first words",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.reply_seconds = Histogram(
            "sessionbot_reply_seconds",
            "Seconds from asking the model to the stored, complete reply",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.context_tokens = Histogram(
            "sessionbot_reply_context_tokens",
            "Tokens of the context sent with each reply (estimated)",
            buckets=_TOKEN_BUCKETS,
            registry=registry,
        )
        self.model_errors = Counter(
            "sessionbot_model_errors", "Failed model replies by kind", ["kind"], registry=registry
        )
        for kind in MODEL_ERROR_KINDS:
            self.model_errors.labels(kind=kind)
        self.summaries = Counter(
            "sessionbot_summaries_folded", "Summary folds of older messages", registry=registry
        )
        self.summarized_messages = Counter(
            "sessionbot_summarized_messages", "Messages folded into summaries", registry=registry
        )

    def _build_state_metrics(self) -> None:
        registry = self.registry
        self.discord_429s = Counter(
            "sessionbot_discord_rate_limited",
            "Discord REST responses with status 429, by X-RateLimit-Scope",
            ["scope"],
            registry=registry,
        )
        self.active_sessions = Gauge(
            "sessionbot_active_sessions", "Active sessions in the store", registry=registry
        )
        self.gateway_connected = Gauge(
            "sessionbot_discord_gateway_connected",
            "1 while the Discord gateway is connected (only with the bot in this process)",
            registry=registry,
        )
        self.gateway_latency = Gauge(
            "sessionbot_discord_gateway_latency_seconds",
            "Round trip of the last gateway heartbeat",
            registry=registry,
        )

    # EngineEvents ---------------------------------------------------------------------------

    def message_stored(self) -> None:
        self.messages_in.inc()

    def reply_started(self) -> None:
        pass

    def first_token(self, seconds: float) -> None:
        self.first_token_seconds.observe(seconds)
        self.last_model = ModelOutcome(ok=True, kind=None, at=self._clock())

    def reply_finished(self, *, seconds: float, context_tokens: int) -> None:
        self.replies_out.inc()
        self.reply_seconds.observe(seconds)
        self.context_tokens.observe(context_tokens)
        self.last_model = ModelOutcome(ok=True, kind=None, at=self._clock())

    def model_failed(self, kind: str) -> None:
        self.model_errors.labels(kind=kind).inc()
        self.last_model = ModelOutcome(ok=False, kind=kind, at=self._clock())

    def summary_folded(self, messages: int) -> None:
        self.summaries.inc()
        self.summarized_messages.inc(messages)

    # Health and scraping -------------------------------------------------------------------

    def model_age(self) -> float | None:
        """Seconds since the last model call ended; None before the first."""
        return None if self.last_model is None else self._clock() - self.last_model.at

    def gateway_status(self) -> GatewayStatus | None:
        """The Discord gateway's state; None when no bot runs in this process."""
        return None if self.gateway is None else self.gateway()

    def render(self, active_sessions: int | None) -> bytes:
        """The text exposition, with the gauges read now (`active_sessions` from the store)."""
        if active_sessions is not None:
            self.active_sessions.set(active_sessions)
        gateway = self.gateway_status()
        if gateway is not None:
            self.gateway_connected.set(1 if gateway.connected else 0)
            latency = gateway.latency
            self.gateway_latency.set(latency if latency is not None else math.nan)
        return generate_latest(self.registry)

    def rest_trace(self) -> aiohttp.TraceConfig:
        """An aiohttp trace for discord.py's `http_trace`: counts every REST 429."""
        import aiohttp  # only the Discord bot's process needs it

        async def on_end(
            session: aiohttp.ClientSession,
            context: object,
            params: aiohttp.TraceRequestEndParams,
        ) -> None:
            if params.response.status == 429:
                scope = params.response.headers.get("X-RateLimit-Scope", "")
                self.discord_429s.labels(scope=scope if scope in _SCOPES else "unknown").inc()

        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(on_end)
        return trace
