"""Storage errors; each str() is a sentence a user can act on."""

from __future__ import annotations

from uuid import UUID

__all__ = [
    "AnsweredMessageGone",
    "BindingConflict",
    "DatabaseBusy",
    "DuplicateSession",
    "InvalidCursor",
    "InvalidMetadata",
    "InvalidText",
    "InvalidValue",
    "MigrationError",
    "NotSessionbotDatabase",
    "SessionEnded",
    "SessionNotFound",
    "StorageError",
    "UnsupportedDatabase",
]


class StorageError(Exception):
    """Base class for everything the session store raises on purpose."""


class SessionNotFound(StorageError):
    def __init__(self, session_id: UUID) -> None:
        self.session_id = session_id
        super().__init__(
            f"There is no session with id {session_id}. "
            "List the sessions to find the right id, or start a new session."
        )


class BindingConflict(StorageError):
    def __init__(self, binding_key: str, existing_id: UUID) -> None:
        self.binding_key = binding_key
        self.existing_id = existing_id
        super().__init__(
            f"{binding_key} already has an active session ({existing_id}). "
            "End that session first, or use a different conversation."
        )


class BindingMoved(StorageError):
    def __init__(self, session_id: UUID) -> None:
        self.session_id = session_id
        super().__init__(
            f"Session {session_id} was moved to another conversation meanwhile; "
            "look it up again before attaching it."
        )


class SessionEnded(StorageError):
    def __init__(self, session_id: UUID) -> None:
        self.session_id = session_id
        super().__init__(
            f"Session {session_id} has ended, so it can't take new messages or a new binding. "
            "Start a new session to keep talking."
        )


class AnsweredMessageGone(StorageError):
    def __init__(self, session_id: UUID, message_id: int | None) -> None:
        self.session_id = session_id
        self.message_id = message_id
        super().__init__(
            "The message this reply answers was deleted (or the history cleared) while the "
            "reply was being written, so the reply was not kept."
        )


class DuplicateSession(StorageError):
    def __init__(self, session_id: UUID) -> None:
        self.session_id = session_id
        super().__init__(
            f"A session with id {session_id} already exists. Leave the id out to get a fresh one."
        )


class InvalidCursor(StorageError, ValueError):
    def __init__(self) -> None:
        super().__init__(
            "That page cursor is not valid for this listing. "
            "Start again from the first page without a cursor."
        )


class InvalidValue(StorageError, ValueError):
    """A value the store cannot keep faithfully; `field` names it, `problem` says why."""

    def __init__(self, field: str, problem: str, sentence: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(sentence)


class InvalidMetadata(InvalidValue):
    def __init__(self, problem: str) -> None:
        super().__init__(
            "metadata",
            problem,
            f"This metadata is not JSON sessionbot can store: {problem}. "
            "Fix the value and try again.",
        )


class InvalidText(InvalidValue):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(field, problem, f"The {field} {problem}. Fix the text and try again.")


class DatabaseBusy(StorageError):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(
            f"The database stayed locked by another program for {seconds:g} seconds, so nothing "
            "was changed. Try again in a moment; if it keeps happening, look for a process "
            "holding a write transaction open on the database file."
        )


class NotSessionbotDatabase(StorageError):
    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(
            f"This is not a sessionbot database ({problem}), so it was left untouched. "
            "Point SESSIONBOT_DATABASE at a new file or at an existing sessionbot database."
        )


class MigrationError(StorageError):
    def __init__(self, problem: str, *, version: int) -> None:
        self.problem = problem
        self.version = version
        super().__init__(
            f"The database could not be upgraded: {problem}. "
            f"It was left unchanged at schema version {version}; "
            "fix the problem (or use a matching sessionbot version) and start again."
        )


class UnsupportedDatabase(StorageError, ValueError):
    def __init__(self, scheme: str) -> None:
        self.scheme = scheme
        super().__init__(
            f"sessionbot cannot store sessions in a {scheme}:// database. Use a file path "
            "(or sqlite:///path) for SQLite, or postgresql://USER:PASS@HOST:PORT/DB."
        )
