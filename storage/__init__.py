"""The session store: domain models, the async SessionStore and its SQL migrations."""

from . import errors
from .errors import (
    BindingConflict,
    BindingMoved,
    SessionEnded,
    SessionNotFound,
    StorageError,
)
from .listing import ListQuery
from .models import (
    UNSET,
    Message,
    Role,
    Session,
    SessionChanges,
    SessionPage,
    SessionStatus,
    TokensSource,
    Unset,
    normalize_tags,
)
from .protocol import Store
from .store import SessionStore

__all__ = [
    "UNSET",
    "BindingConflict",
    "BindingMoved",
    "ListQuery",
    "Message",
    "Role",
    "Session",
    "SessionChanges",
    "SessionEnded",
    "SessionNotFound",
    "SessionPage",
    "SessionStatus",
    "SessionStore",
    "StorageError",
    "Store",
    "TokensSource",
    "Unset",
    "errors",
    "normalize_tags",
]
