"""Domain errors. Each carries the one sentence a user sees, with what to check or do next."""

from __future__ import annotations

from storage.errors import StorageError


class SessionbotError(Exception):
    """Base of sessionbot's domain errors; `user_message` (and str()) is shown to users as is.

    `public_message` is the sentence for people in a shared chat who do not run the bot: the
    same, unless the error holds operator details (an internal host, a setting's value).
    """

    public_sentence: str | None = None

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message

    @property
    def public_message(self) -> str:
        return self.public_sentence or self.user_message

    def __str__(self) -> str:
        return self.user_message


class LLMError(SessionbotError):
    """The language model could not produce a reply (including a failure mid-stream).

    `status_code` is the HTTP status the server answered with, when there was one.
    """

    public_sentence: str | None = "My language model failed while answering; try again."

    def __init__(self, user_message: str, *, status_code: int | None = None) -> None:
        super().__init__(user_message)
        self.status_code = status_code


class LLMUnavailable(LLMError):
    """The server could not be reached, failed (5xx) or dropped the connection."""

    public_sentence = "I couldn't reach my language model just now; try again in a minute."


class LLMRateLimited(LLMError):
    """The server kept answering 429 after the client's retries."""

    public_sentence = "My language model is busy right now; try again in a minute."


class LLMTimeout(LLMError):
    """The server did not answer, or stalled between chunks, longer than the timeout."""

    public_sentence = "My language model took too long to answer; try again."


class LLMRejected(LLMError):
    """The server refused the request (400/401/403/404): a setting needs fixing, not a retry."""

    public_sentence = (
        "My language model refused the request; the bot's operator needs to check its "
        "settings (the log says which)."
    )


# Errors of turns.


class PersonaUnavailable(SessionbotError):
    """The session's persona is not loaded (file removed or never valid)."""


class SituationFailed(SessionbotError):
    """The persona's situation template could not be rendered."""


class EmptyReply(LLMError):
    """The model answered with nothing but whitespace."""

    public_sentence = None

    def __init__(self, user_message: str | None = None) -> None:
        super().__init__(
            user_message
            or "The language model sent an empty reply; try again or rephrase the message."
        )


# Attaching an existing session to a place (see `Engine.attach_session`).


class UnknownSession(SessionbotError):
    def __init__(self, session_id: object) -> None:
        super().__init__(
            f"There is no session with id `{session_id}`; check the id (the HTTP API's "
            "`GET /sessions` and `sessionbot sessions list` show them)."
        )


class AttachEnded(SessionbotError):
    def __init__(self, session_id: object, start_hint: str) -> None:
        super().__init__(
            f"Session `{session_id}` has ended, so it can't be attached; create a new one "
            f"through the HTTP API, or {start_hint}."
        )


class AlreadyAttachedHere(SessionbotError):
    def __init__(self, session_id: object) -> None:
        super().__init__(
            f"Session `{session_id}` is already attached here; send a message to continue it."
        )


class AttachedElsewhere(SessionbotError):
    def __init__(self, session_id: object, place: str, noun: str) -> None:
        super().__init__(
            f"Session `{session_id}` is already attached to another {place}, so it "
            f"can't be moved here; create a new session for this {noun} instead."
        )


class PlaceTaken(SessionbotError):
    def __init__(self, persona: str, noun: str, end_hint: str) -> None:
        super().__init__(
            f"This {noun} already has an active session with {persona}; {end_hint}, "
            "then attach again."
        )


class NotYourSession(SessionbotError):
    def __init__(self, session_id: object) -> None:
        super().__init__(
            f"Session `{session_id}` was created for another user, so it can't be attached "
            "in your direct messages; attach it in a server channel instead."
        )


class PersonaNotLoaded(SessionbotError):
    def __init__(self, session_id: object, persona: str) -> None:
        super().__init__(
            f"Session `{session_id}` uses the persona `{persona}`, which isn't loaded, so it "
            "couldn't reply here; add that persona's file, then attach again."
        )


# What front ends catch to show a domain error's sentence (storage errors carry one too).
DOMAIN_ERRORS: tuple[type[Exception], ...] = (SessionbotError, StorageError)
