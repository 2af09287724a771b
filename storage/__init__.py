"""The session store: domain models, the async SessionStore and its SQL migrations."""

from . import errors
from .errors import (
    BindingConflict,
    BindingMoved,
    SessionEnded,
    SessionNotFound,
    StorageError,
)
from .models import (
    UNSET,
    Message,
    Role,
    Session,
    SessionPage,
    SessionStatus,
    TokensSource,
    Unset,
    normalize_tags,
)
from .store import SessionStore

__all__ = [
    "UNSET",
    "BindingConflict",
    "BindingMoved",
    "Message",
    "Role",
    "Session",
    "SessionEnded",
    "SessionNotFound",
    "SessionPage",
    "SessionStatus",
    "SessionStore",
    "StorageError",
    "TokensSource",
    "Unset",
    "errors",
    "normalize_tags",
]
