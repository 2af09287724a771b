"""What the engine tells an observer about turns, so a service can count them.

The engine knows no metrics library: it calls an `EngineEvents` at a few points of a turn, and
the wiring connects one that counts (`bot.metrics`). The default, `NO_EVENTS`, does nothing.
Every call is cheap and synchronous; none happens per streamed chunk beyond the first.
"""

from __future__ import annotations

from typing import Final, Protocol

from bot.engine.errors import (
    EmptyReply,
    LLMError,
    LLMRateLimited,
    LLMRejected,
    LLMTimeout,
    LLMUnavailable,
)

__all__ = ["MODEL_ERROR_KINDS", "NO_EVENTS", "EngineEvents", "NoEvents", "model_error_kind"]

# The kind of each model failure, as observers label it; any other LLMError is "other".
_KINDS: Final[tuple[tuple[type[LLMError], str], ...]] = (
    (LLMUnavailable, "unavailable"),
    (LLMRateLimited, "rate_limited"),
    (LLMTimeout, "timeout"),
    (LLMRejected, "rejected"),
    (EmptyReply, "empty_reply"),
)
MODEL_ERROR_KINDS: Final = (*(kind for _cls, kind in _KINDS), "other")


def model_error_kind(exc: LLMError) -> str:
    """The observer's name for a model failure: `timeout`, `rate_limited`, ..., `other`."""
    for cls, kind in _KINDS:
        if isinstance(exc, cls):
            return kind
    return "other"


class EngineEvents(Protocol):
    """Moments of a turn. Times are seconds since the turn asked the model."""

    def message_stored(self) -> None:
        """A person's message was stored."""

    def reply_started(self) -> None:
        """The context is built and the model is being asked."""

    def first_token(self, seconds: float) -> None:
        """The model's first words arrived."""

    def reply_finished(self, *, seconds: float, context_tokens: int) -> None:
        """The whole reply arrived and was stored; `context_tokens` is the prompt's size."""

    def model_failed(self, kind: str) -> None:
        """The model failed to answer (`kind` from `model_error_kind`)."""

    def summary_folded(self, messages: int) -> None:
        """`messages` older messages were folded into a session's summary."""


class NoEvents:
    """Observes nothing: the engine's default."""

    def message_stored(self) -> None:
        pass

    def reply_started(self) -> None:
        pass

    def first_token(self, seconds: float) -> None:
        pass

    def reply_finished(self, *, seconds: float, context_tokens: int) -> None:
        pass

    def model_failed(self, kind: str) -> None:
        pass

    def summary_folded(self, messages: int) -> None:
        pass


NO_EVENTS: Final[EngineEvents] = NoEvents()
