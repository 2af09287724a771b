"""Copying every session, message, tag, binding and refusal from one store to another.

Sessions go over in id order, a batch at a time; each batch (sessions and all their messages)
commits as one transaction, so the destination always holds whole sessions: a copy that was
interrupted resumes after the last session it wrote. Ids, timestamps, reply links, statuses
and bindings are kept. Then the side tables follow whole (`SIDE_TABLES`: the other personas of
sessions, place defaults and the alternatives of replies), as rows in one neutral shape (ids as
text, timestamps as microseconds), each written once however often a copy resumes. At the end
both sides are counted and checksummed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol
from uuid import UUID

from .errors import StorageError
from .models import Message, Session
from .protocol import Store

__all__ = [
    "CopyEndpoint",
    "CopyReport",
    "CopyableStore",
    "DestinationNotEmpty",
    "Totals",
    "copy_store",
    "survey",
]

SESSION_BATCH: Final = 200
MESSAGE_BATCH: Final = 1000

SIDE_TABLES: Final = ("session_agents", "persona_defaults", "message_variants")
"""Copied whole after the sessions, in this order; reply drafts (in-flight state) are not."""

SideRow = tuple[str | int | bool | None, ...]
"""A side-table row as both stores read and write it: see each store's copy module."""


@dataclass(frozen=True)
class Totals:
    sessions: int
    messages: int
    refused: int
    side_rows: int = 0


class CopyEndpoint(Protocol):
    """What a store offers `copy_store`, beside the `Store` interface."""

    async def copy_totals(self) -> Totals: ...

    async def sessions_after(self, after: UUID | None, limit: int) -> list[Session]:
        """Sessions with id > `after`, in id order (as text: both stores order ids alike)."""
        ...

    def message_batches(
        self, session_id: UUID, *, before: int | None = None, batch_size: int = ...
    ) -> AsyncIterator[list[Message]]: ...

    async def refused_ids(self) -> list[int]: ...

    async def write_copied(self, sessions: Sequence[Session], messages: Sequence[Message]) -> None:
        """Store these sessions and messages exactly as they are, in one transaction."""
        ...

    async def write_refused(self, message_ids: Sequence[int]) -> None: ...

    async def side_rows(self, table: str) -> list[SideRow]:
        """Every row of one of `SIDE_TABLES`, in a stable order."""
        ...

    async def write_side_rows(self, table: str, rows: Sequence[SideRow]) -> None:
        """Add these rows (ones already there are left as they are)."""
        ...

    async def finish_copy(self) -> None:
        """Let new message ids continue after the copied ones."""
        ...


class CopyableStore(Store, CopyEndpoint, Protocol):
    """A store that `sessionbot db copy` can read from and write to (both of ours)."""


class DestinationNotEmpty(StorageError):
    def __init__(self) -> None:
        super().__init__(
            "The destination already holds sessions that are not an interrupted copy of the "
            "source, so nothing was copied. Copy into a new, empty database."
        )


@dataclass(frozen=True)
class CopyReport:
    source: Totals
    destination: Totals
    source_checksum: str
    destination_checksum: str
    resumed_after: UUID | None

    @property
    def matches(self) -> bool:
        return self.source == self.destination and self.source_checksum == self.destination_checksum


Progress = Callable[[int], object]
"""Called with how many more rows (sessions and messages) were copied."""


async def copy_store(
    source: CopyEndpoint, destination: CopyEndpoint, progress: Progress = lambda _: None
) -> CopyReport:
    """Copy everything from `source` into an empty `destination` (or finish an interrupted
    copy), then count and checksum both."""
    resumed_after = await _resume_point(source, destination)
    after = resumed_after
    while True:
        sessions = await source.sessions_after(after, SESSION_BATCH)
        if not sessions:
            break
        messages: list[Message] = []
        for session in sessions:
            async for batch in source.message_batches(session.id, batch_size=MESSAGE_BATCH):
                messages.extend(batch)
        await destination.write_copied(sessions, messages)
        progress(len(sessions) + len(messages))
        after = sessions[-1].id
    await destination.write_refused(await source.refused_ids())
    for table in SIDE_TABLES:
        rows = await source.side_rows(table)
        await destination.write_side_rows(table, rows)
        progress(len(rows))
    await destination.finish_copy()
    source_totals, source_sum = await survey(source)
    destination_totals, destination_sum = await survey(destination)
    return CopyReport(source_totals, destination_totals, source_sum, destination_sum, resumed_after)


async def _resume_point(source: CopyEndpoint, destination: CopyEndpoint) -> UUID | None:
    """None for an empty destination; the last copied session id for an interrupted copy."""
    copied: list[Session] = []
    after: UUID | None = None
    while batch := await destination.sessions_after(after, SESSION_BATCH):
        copied.extend(batch)
        after = batch[-1].id
    if not copied:
        return None
    originals: list[Session] = []
    after = None
    while len(originals) < len(copied):
        batch = await source.sessions_after(after, min(SESSION_BATCH, len(copied) - len(originals)))
        if not batch:
            break
        originals.extend(batch)
        after = batch[-1].id
    if originals != copied:
        raise DestinationNotEmpty
    return copied[-1].id


async def survey(store: CopyEndpoint) -> tuple[Totals, str]:
    """Counts, and a SHA-256 over every session, message and refusal in id order."""
    digest = hashlib.sha256()
    sessions = messages = 0
    after: UUID | None = None
    while batch := await store.sessions_after(after, SESSION_BATCH):
        for session in batch:
            sessions += 1
            digest.update(_line(session.model_dump(mode="json")))
            async for page in store.message_batches(session.id, batch_size=MESSAGE_BATCH):
                messages += len(page)
                for message in page:
                    digest.update(_line(message.to_dict()))
        after = batch[-1].id
    refused = await store.refused_ids()
    digest.update(_line(refused))
    side = 0
    for table in SIDE_TABLES:
        for row in await store.side_rows(table):
            side += 1
            digest.update(_line([table, *row]))
    return Totals(sessions, messages, len(refused), side), digest.hexdigest()


def _line(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False).encode() + b"\n"
