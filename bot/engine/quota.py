"""Abuse limits: whether a stored message may be answered now, and if not, why and until when.

Platform-neutral: a front end names the person, and the scope the person writes in (a key
prefix shared by one server's conversations, e.g. `discord:<guild>:`; None for direct
messages). Three limits apply, in this order:

- the scope's daily token budget (every stored message's tokens, of the current UTC day),
- the person's rate in that scope (unless the front end says the person is exempt),
- the scope's rate.

A refused message counts against nothing, so one person over their limit does not use up the
server's. The running token count of a scope is read from the store at its first use each day
and then kept in memory: each message admitted or refused and each reply stored adds to it.
Each refusal says whether to tell the person: once per window per person (per scope for the
scope's limits), so a flood is answered by one notice, not one per message.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from bot.engine.limits import Rate, SlidingWindow

__all__ = ["Ask", "Limits", "Quota", "Refusal", "scope_of"]

LimitKind = Literal["person", "server", "tokens"]
SpentSince = Callable[[str, datetime], Awaitable[int]]
TOLD_SWEEP = 4096  # remembered notices past which the expired ones are forgotten


@dataclass(frozen=True)
class Limits:
    """The limits in force; None: no such limit."""

    person: Rate | None = None
    server: Rate | None = None
    daily_tokens: int | None = None


@dataclass(frozen=True)
class Ask:
    """A stored message that wants an answer: who wrote it, where, and its stored tokens."""

    person: str
    scope: str | None  # None: a direct message (only the person's rate applies)
    tokens: int = 0
    exempt: bool = False  # not held to the person's rate (e.g. a server manager)


@dataclass(frozen=True)
class Refusal:
    """Why a message is not answered: the limit, how long until it allows again, and whether
    to tell the person (the first refusal of this window)."""

    kind: LimitKind
    wait: float
    rate: Rate | None
    daily_tokens: int | None
    notify: bool


def scope_of(binding_key: str | None) -> str | None:
    """The scope a conversation key belongs to: the key up to its last ':' (`discord:1:2` ->
    `discord:1:`); None for a key without one."""
    if binding_key is None or ":" not in binding_key:
        return None
    return binding_key[: binding_key.rindex(":") + 1]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Quota:
    """The limits of every person and scope, kept in memory by one process."""

    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = _utcnow
    _person: SlidingWindow | None = field(init=False, default=None)
    _server: SlidingWindow | None = field(init=False, default=None)
    _spent: dict[str, tuple[datetime, int]] = field(init=False, default_factory=dict)
    _told: dict[Hashable, float] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.limits.person is not None:
            self._person = SlidingWindow(self.limits.person, clock=self.clock)
        if self.limits.server is not None:
            self._server = SlidingWindow(self.limits.server, clock=self.clock)

    async def admit(self, ask: Ask, spent_since: SpentSince) -> Refusal | None:
        """None if the message may be answered now (and count it); else the Refusal.

        `spent_since(scope, moment)` reads the tokens stored in the scope since the moment
        (the message itself included); it is called once per scope and UTC day.
        """
        refusal = await self._over_budget(ask, spent_since)
        if refusal is not None:
            return refusal
        person_key = (ask.scope, ask.person)
        if self._person is not None and not ask.exempt:
            wait = self._person.wait(person_key)
            if wait is not None:
                return self._refuse("person", wait, person_key, self._person.rate)
        if self._server is not None and ask.scope is not None:
            wait = self._server.wait(ask.scope)
            if wait is not None:
                return self._refuse("server", wait, ask.scope, self._server.rate)
            self._server.hit(ask.scope)
        if self._person is not None and not ask.exempt:
            self._person.hit(person_key)
        return None

    def spend(self, binding_key: str | None, tokens: int) -> None:
        """Add a stored reply's tokens to its scope's count (if the scope is counted today)."""
        scope = scope_of(binding_key)
        if scope is None:
            return
        day = _day(self.now())
        counted = self._spent.get(scope)
        if counted is not None and counted[0] == day:
            self._spent[scope] = (day, counted[1] + tokens)

    def spent(self, scope: str) -> int | None:
        """The scope's token count today, if it is being counted."""
        counted = self._spent.get(scope)
        return counted[1] if counted is not None and counted[0] == _day(self.now()) else None

    async def _over_budget(self, ask: Ask, spent_since: SpentSince) -> Refusal | None:
        budget = self.limits.daily_tokens
        if budget is None or ask.scope is None:
            return None
        now = self.now()
        day = _day(now)
        counted = self._spent.get(ask.scope)
        if counted is not None and counted[0] == day:
            total = counted[1] + ask.tokens
        else:  # first use today: the store's sum already holds this message
            total = await spent_since(ask.scope, day)
        self._spent[ask.scope] = (day, total)
        if total - ask.tokens < budget:  # the budget was not spent before this message
            return None
        wait = (day + timedelta(days=1) - now).total_seconds()
        return self._refuse("tokens", wait, (ask.scope, "tokens"), None)

    def _refuse(self, kind: LimitKind, wait: float, key: Hashable, rate: Rate | None) -> Refusal:
        now = self.clock()
        told_key = (kind, key)
        notify = self._told.get(told_key, 0.0) <= now
        if notify:
            self._told[told_key] = now + wait
            self._sweep(now)
        budget = self.limits.daily_tokens if kind == "tokens" else None
        return Refusal(kind=kind, wait=wait, rate=rate, daily_tokens=budget, notify=notify)

    def _sweep(self, now: float) -> None:
        if len(self._told) < TOLD_SWEEP:
            return
        for key in [key for key, until in self._told.items() if until <= now]:
            del self._told[key]


def _day(moment: datetime) -> datetime:
    """Midnight UTC starting the day of `moment`."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
