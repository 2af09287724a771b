"""The session store: domain models, the Store interface, its SQLite (SessionStore) and
PostgreSQL (PostgresStore) implementations and their SQL migrations."""

from . import errors, limits
from .cast import PersonaDefault
from .errors import (
    BindingConflict,
    BindingMoved,
    SessionEnded,
    SessionNotFound,
    StorageError,
)
from .export import ExportFormat, estimate_export_bytes, export_chunks
from .factory import DatabaseLocation, open_store, opened_store, parse_location
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
from .postgres import PostgresStore
from .protocol import Store
from .store import SessionStore
from .turns import Arrival, NewMessage, TurnState
from .usage import UsageQuery, UsageRow
from .variants import Variant

__all__ = [
    "UNSET",
    "Arrival",
    "BindingConflict",
    "BindingMoved",
    "DatabaseLocation",
    "ExportFormat",
    "HistorySize",
    "ListQuery",
    "Message",
    "NewMessage",
    "PersonaDefault",
    "PostgresStore",
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
    "TurnState",
    "Unset",
    "UsageQuery",
    "UsageRow",
    "Variant",
    "errors",
    "estimate_export_bytes",
    "export_chunks",
    "limits",
    "normalize_tags",
    "open_store",
    "opened_store",
    "parse_location",
]
