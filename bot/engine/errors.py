"""Domain errors. Each carries the one sentence a user sees, with what to check or do next."""

from __future__ import annotations


class SessionbotError(Exception):
    """Base of sessionbot's domain errors; `user_message` (and str()) is shown to users as is."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message

    def __str__(self) -> str:
        return self.user_message


class LLMError(SessionbotError):
    """The language model could not produce a reply (including a failure mid-stream).

    `status_code` is the HTTP status the server answered with, when there was one.
    """

    def __init__(self, user_message: str, *, status_code: int | None = None) -> None:
        super().__init__(user_message)
        self.status_code = status_code


class LLMUnavailable(LLMError):
    """The server could not be reached, failed (5xx) or dropped the connection."""


class LLMRateLimited(LLMError):
    """The server kept answering 429 after the client's retries."""


class LLMTimeout(LLMError):
    """The server did not answer, or stalled between chunks, longer than the timeout."""


class LLMRejected(LLMError):
    """The server refused the request (400/401/403/404): a setting needs fixing, not a retry."""


# Engine errors (used by bot.engine; added here so that the module holds the whole hierarchy).


class PersonaUnavailable(SessionbotError):
    """The session's persona is not loaded (file removed or never valid)."""


class SituationFailed(SessionbotError):
    """The persona's situation template could not be rendered."""


class EmptyReply(LLMError):
    """The model answered with nothing but whitespace."""

    def __init__(self, user_message: str | None = None) -> None:
        super().__init__(
            user_message
            or "The language model sent an empty reply; try again or rephrase the message."
        )
