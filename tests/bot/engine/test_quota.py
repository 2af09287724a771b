"""The abuse limits' policy: who is refused, for how long, who is told, and the token budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.engine.limits import Rate
from bot.engine.quota import Ask, Limits, Quota, Refusal, scope_of

GUILD = "discord:1:"
NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clocks:
    """A monotonic clock and a UTC clock that move together."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def monotonic(self) -> float:
        return self.seconds

    def utc(self) -> datetime:
        return NOON + timedelta(seconds=self.seconds - 1000.0)


class Store:
    """What the store would sum for a scope, and how often it was asked."""

    def __init__(self, spent: int = 0) -> None:
        self.spent = spent
        self.calls: list[tuple[str, datetime]] = []

    async def __call__(self, scope: str, since: datetime) -> int:
        self.calls.append((scope, since))
        return self.spent


def quota(clocks: Clocks, **limits: object) -> Quota:
    return Quota(Limits(**limits), clock=clocks.monotonic, now=clocks.utc)  # type: ignore[arg-type]


async def asks(q: Quota, ask: Ask, n: int, store: Store | None = None) -> list[Refusal | None]:
    return [await q.admit(ask, store or Store()) for _ in range(n)]


async def test_a_person_over_the_rate_is_refused_and_told_once_per_window() -> None:
    clocks = Clocks()
    q = quota(clocks, person=Rate(3, 60))
    ask = Ask(person="alice", scope=GUILD)
    results = await asks(q, ask, 3)
    assert results == [None, None, None]
    clocks.seconds += 10
    refused = await asks(q, ask, 3)
    assert [r.kind for r in refused if r] == ["person"] * 3
    assert [r.notify for r in refused if r] == [True, False, False]
    assert refused[0] is not None and refused[0].wait == pytest.approx(50)
    clocks.seconds += 50  # the first hit leaves the window
    assert await q.admit(ask, Store()) is None


async def test_one_person_over_the_rate_leaves_others_and_the_server_alone() -> None:
    clocks = Clocks()
    q = quota(clocks, person=Rate(2, 60), server=Rate(3, 60))
    alice, bob = Ask(person="alice", scope=GUILD), Ask(person="bob", scope=GUILD)
    results = await asks(q, alice, 5)
    assert results[:2] == [None, None]
    assert all(r is not None and r.kind == "person" for r in results[2:])
    assert await q.admit(bob, Store()) is None  # alice's refusals did not use the server's rate
    refused = await q.admit(bob, Store())
    assert refused is not None and refused.kind == "server"


async def test_the_same_person_in_another_server_or_a_dm_counts_apart() -> None:
    clocks = Clocks()
    q = quota(clocks, person=Rate(1, 60), server=Rate(1, 60))
    assert await q.admit(Ask(person="alice", scope=GUILD), Store()) is None
    assert await q.admit(Ask(person="alice", scope="discord:2:"), Store()) is None
    assert await q.admit(Ask(person="alice", scope=None), Store()) is None  # a DM: no server
    refused = await q.admit(Ask(person="alice", scope=None), Store())
    assert refused is not None and refused.kind == "person"


async def test_an_exempt_person_is_held_only_to_the_server_rate() -> None:
    clocks = Clocks()
    q = quota(clocks, person=Rate(1, 60), server=Rate(3, 60))
    admin = Ask(person="olga", scope=GUILD, exempt=True)
    results = await asks(q, admin, 4)
    assert results[:3] == [None, None, None]
    assert results[3] is not None and results[3].kind == "server"


async def test_the_daily_budget_is_read_once_then_counted_in_memory() -> None:
    clocks = Clocks()
    q = quota(clocks, daily_tokens=100)
    store = Store(spent=90)  # the store's sum holds the message being asked about
    assert await q.admit(Ask(person="a", scope=GUILD, tokens=5), store) is None
    assert store.calls == [(GUILD, datetime(2026, 3, 1, tzinfo=UTC))]
    q.spend("discord:1:77", 10)  # a reply in one of the server's channels: 100 now
    assert q.spent(GUILD) == 100
    refused = await q.admit(Ask(person="b", scope=GUILD, tokens=3), store)
    assert refused is not None and refused.kind == "tokens" and refused.daily_tokens == 100
    assert refused.wait == pytest.approx(12 * 3600)  # until midnight UTC
    assert len(store.calls) == 1


async def test_a_new_utc_day_reads_the_budget_again() -> None:
    clocks = Clocks()
    q = quota(clocks, daily_tokens=100)
    assert await q.admit(Ask(person="a", scope=GUILD), Store(spent=150)) is not None
    clocks.seconds += 12 * 3600
    fresh = Store(spent=0)
    assert await q.admit(Ask(person="a", scope=GUILD), fresh) is None
    assert fresh.calls == [(GUILD, datetime(2026, 3, 2, tzinfo=UTC))]


async def test_direct_messages_have_no_budget_and_unlimited_quota_admits_all() -> None:
    clocks = Clocks()
    store = Store(spent=10**9)
    assert await quota(clocks, daily_tokens=1).admit(Ask(person="a", scope=None), store) is None
    assert await asks(quota(clocks), Ask(person="a", scope=GUILD), 100, store) == [None] * 100
    assert store.calls == []


@pytest.mark.parametrize(
    ("key", "scope"),
    [("discord:1:2", "discord:1:"), ("discord:dm:5", "discord:dm:"), ("api", None), (None, None)],
)
def test_the_scope_of_a_key_is_its_prefix_up_to_the_last_colon(
    key: str | None, scope: str | None
) -> None:
    assert scope_of(key) == scope
