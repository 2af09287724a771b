"""Usage figures from what is stored: grouped per key, persona and person; daily token sums;
refused messages; and the index that keeps them fast (0005)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from storage import Role, SessionStore, UsageQuery, UsageRow
from storage.models import to_micros, utc_now
from storage.usage import key_range, select_tokens_since, select_usage
from tests.storage.helpers import new_session, raw_query, say

G1, G2 = "discord:1:", "discord:2:"


async def converse(store: SessionStore, key: str, agent: str, person: str, tokens: int) -> int:
    """A session at `key` where `person` writes once and gets one reply; the reply's id."""
    session = await new_session(store, binding_key=key, agent_id=agent)
    asked = await say(store, session, "hello there", author_id=person, tokens=tokens)
    reply = await store.append_message(
        session.id, role=Role.ASSISTANT, content="hi", reply_to=asked.id, tokens=2 * tokens
    )
    return reply.id


def by_person(rows: list[UsageRow]) -> dict[str | None, tuple[int, int, int]]:
    totals: dict[str | None, tuple[int, int, int]] = {}
    for row in rows:
        m, r, t = totals.get(row.person, (0, 0, 0))
        totals[row.person] = (m + row.messages, r + row.replies, t + row.tokens)
    return totals


async def test_usage_counts_messages_and_the_replies_to_each_person(store: SessionStore) -> None:
    await converse(store, G1 + "10", "sara", "alice", 3)
    await converse(store, G1 + "11", "tutor", "alice", 5)
    await converse(store, G1 + "12", "sara", "bob", 7)
    greeted = await new_session(store, binding_key=G2 + "20", agent_id="sara")
    await store.append_message(greeted.id, role=Role.ASSISTANT, content="Hi!", tokens=4)
    since = utc_now() - timedelta(days=1)
    rows = await store.usage(UsageQuery(since=since))
    assert by_person(rows) == {"alice": (2, 2, 24), "bob": (1, 1, 21), None: (0, 1, 4)}
    assert {(r.key_group, r.agent_id) for r in rows if r.person == "alice"} == {
        (G1, "sara"),
        (G1, "tutor"),
    }
    in_g1 = await store.usage(UsageQuery(since=since, key_prefix=G1))
    assert by_person(in_g1) == {"alice": (2, 2, 24), "bob": (1, 1, 21)}
    on_sara = await store.usage(UsageQuery(since=since, agent_id="sara"))
    assert by_person(on_sara) == {"alice": (1, 1, 9), "bob": (1, 1, 21), None: (0, 1, 4)}
    alice = await store.usage(UsageQuery(since=since, key_prefix=G1, author_id="alice"))
    assert by_person(alice) == {"alice": (2, 2, 24)}


async def test_usage_and_token_sums_leave_out_older_messages(
    store: SessionStore, db_path: Path
) -> None:
    old_reply = await converse(store, G1 + "10", "sara", "alice", 3)
    week_ago = to_micros(utc_now() - timedelta(days=8))
    raw_query(db_path, "UPDATE messages SET created_at = ? WHERE id <= ?", (week_ago, old_reply))
    await converse(store, G1 + "11", "sara", "alice", 10)
    await converse(store, G2 + "20", "sara", "bob", 100)
    since = utc_now() - timedelta(days=7)
    assert by_person(await store.usage(UsageQuery(since=since, key_prefix=G1))) == {
        "alice": (1, 1, 30)
    }
    assert await store.tokens_since(G1, since) == 30
    assert await store.tokens_since(G1, since - timedelta(days=2)) == 39
    assert await store.tokens_since("discord:3:", since) == 0


async def test_a_refused_message_is_settled_like_an_answered_one(store: SessionStore) -> None:
    session = await new_session(store, binding_key=G1 + "10")
    first = await say(store, session, "one", author_id="alice")
    second = await say(store, session, "two", author_id="alice")
    await store.append_message(
        session.id, role=Role.ASSISTANT, content="ok", reply_to=first.id, tokens=1
    )
    assert await store.settled(session.id, first.id)
    assert not await store.settled(session.id, second.id)
    await store.refuse_message(second.id)
    await store.refuse_message(second.id)  # idempotent
    assert await store.settled(session.id, second.id)


def test_key_ranges_cover_exactly_the_prefix() -> None:
    low, high = key_range("discord:1:")
    assert low <= "discord:1:5" < high
    assert not low <= "discord:10:5" < high
    assert not low <= "discord:1" < high


async def test_usage_reads_only_the_covering_index(store: SessionStore, db_path: Path) -> None:
    for i in range(30):
        await converse(store, f"discord:{i % 3}:{i}", "sara", f"u{i % 4}", 2)
    raw_query(db_path, "ANALYZE")
    since = utc_now() - timedelta(days=7)
    for sql, params in (
        select_usage(UsageQuery(since=since, key_prefix=G1)),
        select_usage(UsageQuery(since=since, key_prefix=G1, author_id="u1")),
        select_tokens_since(G1, since),
    ):
        plan = [row[3] for row in raw_query(db_path, "EXPLAIN QUERY PLAN " + sql, tuple(params))]
        assert any("USING COVERING INDEX messages_usage" in d for d in plan), plan
        assert any("sessions_binding_key" in d for d in plan), plan
        assert not any(d.startswith("SCAN m") for d in plan), plan
    sql, params = select_usage(UsageQuery(since=since))
    plan = [row[3] for row in raw_query(db_path, "EXPLAIN QUERY PLAN " + sql, tuple(params))]
    assert any("USING COVERING INDEX messages_usage" in d for d in plan), plan
