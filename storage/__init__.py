"""The session store: domain models, the async SessionStore and its SQL migrations."""

from . import errors, limits
from .errors import (
    BindingConflict,
    BindingMoved,
    SessionEnded,
    SessionNotFound,
    StorageError,
)
from .export import ExportFormat, estimate_export_bytes, export_chunks
from .health import StoreStatus
from .listing import ListQuery
from .models import (
    UNSET,
    HistorySize,
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
from .usage import UsageQuery, UsageRow

__all__ = [
    "UNSET",
    "BindingConflict",
    "BindingMoved",
    "ExportFormat",
    "HistorySize",
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
    "StoreStatus",
    "TokensSource",
    "Unset",
    "UsageQuery",
    "UsageRow",
    "errors",
    "estimate_export_bytes",
    "export_chunks",
    "limits",
    "normalize_tags",
]
