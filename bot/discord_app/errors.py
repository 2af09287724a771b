"""Refusals of the Discord layer: each carries the one sentence (with the fix) a user sees."""

from __future__ import annotations

from bot.engine.errors import SessionbotError


class NoSessionHere(SessionbotError):
    def __init__(self) -> None:
        super().__init__(
            "There's no session in this channel. Start one with `/session start`"
            " (or mention me in a server channel)."
        )


class SessionAlreadyActive(SessionbotError):
    def __init__(self, persona: str) -> None:
        super().__init__(
            f"This channel already has an active session with {persona}. "
            "End it with `/session end` first, or start one in a new thread with "
            "`/session start thread:true`."
        )


class DirectMessagesOff(SessionbotError):
    def __init__(self) -> None:
        super().__init__(
            "Sessions in direct messages are turned off on this bot. "
            "Use `/session start` in a server channel instead."
        )


class ThreadNotPossible(SessionbotError):
    def __init__(self) -> None:
        super().__init__(
            "A new thread can only be started from a server text channel. "
            "Run `/session start thread:true` in a text channel, or leave out `thread`."
        )


class NoTagsGiven(SessionbotError):
    def __init__(self) -> None:
        super().__init__("No tags given. Write one or more tags separated by commas, e.g. `a, b`.")


class NothingToRetry(SessionbotError):
    def __init__(self) -> None:
        super().__init__(
            "The message this reply answered was deleted, so there is nothing to retry. "
            "Send a new message instead."
        )


class AlreadyAnswered(SessionbotError):
    def __init__(self) -> None:
        super().__init__(
            "That message already has its reply (just below it), so there is nothing to retry. "
            "Send a new message to continue."
        )


class SessionIsOver(SessionbotError):
    def __init__(self) -> None:
        super().__init__(
            "That session has ended, so it can't reply any more. "
            "Start a new one with `/session start` or by mentioning me."
        )


class NotAllowed(SessionbotError):
    def __init__(self, permission: str, alternative: str = "") -> None:
        extra = f" {alternative}" if alternative else ""
        super().__init__(
            f"You need the {permission} permission{extra} to do this here; "
            "ask a server admin to grant it."
        )


class ExportTooLarge(SessionbotError):
    def __init__(self, session_id: object) -> None:
        super().__init__(
            "This export is larger than Discord lets me upload here; export it on the bot's "
            f"host with `sessionbot sessions export {session_id}`, or read it through the HTTP "
            f"API at `GET /sessions/{session_id}/history`."
        )


class ServerOnly(SessionbotError):
    def __init__(self, permission: str) -> None:
        super().__init__(
            f"This command works in a server only (it needs {permission} there); "
            "run it in a server channel."
        )


# /session attach ------------------------------------------------------------------------------


class NotASessionId(SessionbotError):
    def __init__(self, text: str) -> None:
        shown = text.strip().replace("`", "")[:40]
        what = f"`{shown}` is" if shown else "That is"
        super().__init__(
            f"{what} not a session id; paste the whole id, a UUID like "
            "`123e4567-e89b-12d3-a456-426614174000` (the HTTP API and "
            "`sessionbot sessions list` show it)."
        )
