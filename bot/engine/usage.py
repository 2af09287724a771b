"""Usage reports: what was written and answered, per person, persona and scope, over N days.

Built from the store's grouped rows (`storage.usage`), so every front end (the `/usage` slash
command, `sessionbot usage`) shows the same figures. A scope is a conversation key up to its
last ':' (`discord:<guild>:` is one Discord server, `discord:dm:` every DM).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.engine.quota import scope_of
from storage import UsageQuery, UsageRow

__all__ = ["MAX_DAYS", "Totals", "UsageReport", "usage_query", "usage_report"]

MAX_DAYS = 90
NO_SCOPE = "-"  # sessions bound to no conversation (made with the CLI or the API)


@dataclass
class Totals:
    """Messages people wrote, replies the personas gave, and the tokens of both."""

    messages: int = 0
    replies: int = 0
    tokens: int = 0

    def add(self, row: UsageRow) -> None:
        self.messages += row.messages
        self.replies += row.replies
        self.tokens += row.tokens

    def as_dict(self) -> dict[str, int]:
        return {"messages": self.messages, "replies": self.replies, "tokens": self.tokens}


@dataclass
class UsageReport:
    """Totals over the report's window; each table is sorted by tokens, most first."""

    since: datetime
    days: int
    total: Totals = field(default_factory=Totals)
    people: dict[str, Totals] = field(default_factory=dict)
    personas: dict[str, Totals] = field(default_factory=dict)
    scopes: dict[str, Totals] = field(default_factory=dict)


def usage_query(
    now: datetime,
    days: int,
    *,
    key_prefix: str | None = None,
    agent_id: str | None = None,
    author_id: str | None = None,
) -> UsageQuery:
    """The store query for the last `days` days (1 to MAX_DAYS) before `now`."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be from 1 to {MAX_DAYS}")
    return UsageQuery(
        since=now - timedelta(days=days),
        key_prefix=key_prefix,
        agent_id=agent_id,
        author_id=author_id,
    )


def usage_report(rows: Iterable[UsageRow], query: UsageQuery, days: int) -> UsageReport:
    """Add the store's rows up per person (who wrote or was answered), persona and scope."""
    people: dict[str, Totals] = defaultdict(Totals)
    personas: dict[str, Totals] = defaultdict(Totals)
    scopes: dict[str, Totals] = defaultdict(Totals)
    report = UsageReport(since=query.since, days=days)
    for row in rows:
        report.total.add(row)
        if row.person is not None:
            people[row.person].add(row)
        personas[row.agent_id].add(row)
        scopes[scope_of(row.key_group) or NO_SCOPE].add(row)
    report.people = _ranked(people)
    report.personas = _ranked(personas)
    report.scopes = _ranked(scopes)
    return report


def _ranked(table: dict[str, Totals]) -> dict[str, Totals]:
    return dict(sorted(table.items(), key=lambda item: (-item[1].tokens, item[0])))
