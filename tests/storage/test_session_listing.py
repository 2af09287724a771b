"""Listings: pages of sessions read for showing, with their personas, in one query. Each listed
session must say exactly what the `Session` of the same row says."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from storage import ListQuery, Session, SessionChanges, SessionStatus, Store
from storage.listing import ListedSession
from tests.storage.helpers import raw_query

METADATA: list[dict[str, Any]] = [
    {},
    {"db_uuid": "1234", "n": 1, "big": 2**63 - 1, "small": -(2**63)},
    {"name": "Zoë ✓ 日本", "nested": {"x": [1, 2.5, None, True]}, "z": {}, "a": []},
    {"float": 1e16, "tiny": 5e-324, "neg": -0.0, "exp": 1.5e300, "flag": False, "none": None},
    {"db_uuid": "1234", "quote": 'say "hi"\n\t\\', "emoji": "🙂", "ctl": "\x01"},
]


def fields(session: Session | ListedSession) -> dict[str, Any]:
    """What a session says, in one form for both: `Session`'s fields, the id as text."""
    if isinstance(session, Session):
        values = dict(session)
        values["id"] = str(session.id)
        return values
    values = session._asdict()
    del values["others"]
    return values


async def varied_sessions(store: Store) -> list[Session]:
    sessions = []
    for index, metadata in enumerate(METADATA):
        sessions.append(
            await store.create_session(
                agent_id=("sara", "tutor")[index % 2],
                situation=f"Situation {index}.",
                user_id=None if index == 2 else f"u{index}",
                metadata=metadata,
                tags=["Team A", "b"] if index % 2 else (),
                render_templates=index == 3,
                binding_key=f"discord:1:{index}" if index % 3 else None,
                persona_version=None if index == 4 else "v1",
                summary="A summary." if index == 1 else None,
            )
        )
    await store.end_session(sessions[0].id)
    await store.fold_summary(sessions[3].id, summary="Folded.", through=7)
    await store.update_session(sessions[2].id, SessionChanges(metadata={"added": 1}))
    return sessions


QUERIES = [
    ListQuery(),
    ListQuery(limit=2),
    ListQuery(limit=2, offset=1, direction="asc"),
    ListQuery(order_by="updated_at"),
    ListQuery(metadata_filter={"db_uuid": "1234"}),
    ListQuery(tags_all=["team a"]),
    ListQuery(agent_id="tutor", status=SessionStatus.ACTIVE),
    ListQuery(status=SessionStatus.ENDED),
    ListQuery(user_id="nobody"),
    ListQuery(key_prefix="discord:1:"),
]


@pytest.mark.parametrize("query", QUERIES, ids=repr)
async def test_a_listing_says_what_list_sessions_says(store: Store, query: ListQuery) -> None:
    await varied_sessions(store)

    page = await store.list_sessions(query)
    listing = await store.session_listing(query)

    assert [fields(listed) for listed in listing.items] == [fields(s) for s in page.items]
    assert listing.next_cursor == page.next_cursor


async def test_listing_pages_walk_every_session_once_by_cursor(store: Store) -> None:
    created = await varied_sessions(store)
    seen: list[str] = []
    cursor = None
    while True:
        listing = await store.session_listing(ListQuery(limit=2, cursor=cursor))
        seen += [listed.id for listed in listing.items]
        cursor = listing.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(str(session.id) for session in created)
    assert len(seen) == len(set(seen))


async def test_a_listing_names_every_persona_in_the_order_they_joined(store: Store) -> None:
    alone = await store.create_session(agent_id="tutor", situation="S.")
    crowded = await store.create_session(agent_id="sara", situation="S.")
    for persona in ("zed", "amy", "kim"):
        await store.add_session_agent(crowded.id, persona)
    await store.remove_session_agent(crowded.id, "amy")

    listed = {item.id: item for item in (await store.session_listing(ListQuery())).items}

    assert listed[str(alone.id)].others == ()
    assert listed[str(alone.id)].agents == ["tutor"]
    assert listed[str(crowded.id)].others == ("zed", "kim")
    assert listed[str(crowded.id)].agents == ["sara", "zed", "kim"]


async def test_the_main_persona_is_listed_once_after_a_switch(store: Store) -> None:
    session = await store.create_session(agent_id="sara", situation="S.")
    await store.add_session_agent(session.id, "zed")
    await store.update_session(session.id, SessionChanges(agent_id="zed"))

    [listed] = (await store.session_listing(ListQuery())).items

    assert listed.agents == ["zed"]
    assert listed.follows_persona is False


def write_raw(db_path: Path, session_id: str, metadata: str | None, tags: str | None) -> None:
    """Store text an older version or a hand edit could leave, past the CHECK constraints and
    the metadata index trigger."""
    connection = sqlite3.connect(db_path)
    trigger = "sessions_metadata_updated"
    try:
        [(sql,)] = connection.execute("SELECT sql FROM sqlite_master WHERE name = ?", (trigger,))
        connection.execute("PRAGMA ignore_check_constraints = ON")
        with connection:
            connection.execute(f"DROP TRIGGER {trigger}")
            if metadata is not None:
                connection.execute(
                    "UPDATE sessions SET metadata = ? WHERE id = ?", (metadata, session_id)
                )
            if tags is not None:
                connection.execute("UPDATE sessions SET tags = ? WHERE id = ?", (tags, session_id))
            connection.execute(sql)
    finally:
        connection.close()


ODD_ROWS = [
    ('{"big": 123456789012345678901234567890}', None),
    ('{"a":' * 40 + "1" + "}" * 40, None),
    ('{"a": [' + "[]," * 40 + "[]]}", None),
    ('{"s": "\\ud800 alone"}', '["\\udfff"]'),
    ('{"nan": NaN}', None),
    ("{oops", '"nope"'),
    ("[1, 2]", "[1]"),
    ('{"a": 1}', '{"t": "x"}'),
]


@pytest.mark.parametrize(("metadata", "tags"), ODD_ROWS)
async def test_rows_the_store_could_not_have_written_are_listed_as_they_are_read(
    store: Store, db_path: Path, metadata: str, tags: str | None
) -> None:
    session = await store.create_session(agent_id="sara", situation="S.", tags=["x"])
    write_raw(db_path, str(session.id), metadata, tags)

    [expected] = (await store.list_sessions(ListQuery())).items
    [listed] = (await store.session_listing(ListQuery())).items

    assert repr(fields(listed)) == repr(fields(expected))  # repr: NaN is not equal to itself


async def test_text_that_is_not_utf8_is_listed_as_it_is_read(store: Store, db_path: Path) -> None:
    session = await store.create_session(agent_id="sara", situation="S.")
    raw_query(
        db_path,
        "UPDATE sessions SET tags = CAST(x'5b2261ff62225d' AS TEXT) WHERE id = ?",
        (str(session.id),),
    )

    [listed] = (await store.session_listing(ListQuery())).items

    assert listed.tags == ["a\ufffdb"]
    assert fields(listed) == fields(await store.get_session(session.id))


def test_listed_sessions_carry_every_field_of_a_session() -> None:
    assert [*ListedSession._fields] == [*Session.model_fields, "others"]
