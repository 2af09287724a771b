"""Copying a whole database between SQLite and PostgreSQL keeps every byte of every export."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import ListQuery, Role, Store, open_store
from storage.copying import SIDE_TABLES, CopyableStore, DestinationNotEmpty, copy_store
from storage.models import SessionChanges
from tests.helpers import REPO, command_env
from tests.postgres_server import NO_POSTGRES, PostgresServer


@pytest.fixture
async def postgres_url(postgres: PostgresServer | None) -> AsyncIterator[str]:
    if postgres is None:
        pytest.skip(NO_POSTGRES)
    async with postgres.fresh_database(migrated=False) as url:
        yield url


async def fill(store: Store) -> None:
    """Sessions in every state, with what is easy to lose on the way: odd numbers and text,
    nested metadata, tags, bindings, reply links, refusals, summaries and usage counts."""
    metadata = {"big": 1e16, "tiny": 1e-7, "n": 12345678901234567, "zoë": "日本 ✓",
                "nested": {"b": [1, 2.5, None, True], "a": {}}, "1234": "1234"}  # fmt: skip
    for index in range(7):
        session = await store.create_session(
            agent_id="sara" if index % 2 else "tutor",
            situation=f"You are persona {index}.",
            user_id=f"user-{index}" if index % 3 else None,
            metadata={**metadata, "index": index},
            tags=["Care", "week 1"] if index % 2 else [],
            binding_key=f"discord:1:{index % 5}" if index != 6 else None,
            persona_version="v1" if index % 2 else None,
            render_templates=bool(index % 2),
        )
        question = None
        for turn in range(index * 3):
            message = await store.append_message(
                session.id, role=Role.USER, content=f"question {turn} «{index}»\n**bold**",
                author_id="ana", author_name="Ana", external_id=f"m{index}-{turn}", tokens=turn,
            )  # fmt: skip
            question = message
            if turn % 2:
                answer = await store.append_message(
                    session.id, role=Role.ASSISTANT, content=f"answer {turn}", tokens=5,
                    tokens_source="usage", reply_to=message.id,
                )  # fmt: skip
                if turn == 3:  # a regenerated reply, its first text chosen again
                    await store.add_variant(
                        session.id, answer.id, content=f"another answer {turn} ✓", tokens=6
                    )
                    await store.choose_variant(session.id, answer.id, 0)
        if question is not None:
            await store.refuse_message(question.id)
            await store.fold_summary(session.id, summary=f"Summary {index}.", through=question.id)
        if index % 3 == 0:  # several personas in one session, in the order they joined
            await store.add_session_agent(session.id, "tutor" if index % 2 else "sara")
            await store.add_session_agent(session.id, "gamemaster")
        if index in (0, 1, 3):  # session 5 takes over the conversation of session 0
            await store.end_session(session.id)
        if index == 4:
            await store.update_session(session.id, SessionChanges(metadata={"extra": [1.0]}))
    await store.set_persona_default("discord:guild:1", "tutor", set_by="olga")
    await store.set_persona_default("discord:guild:1/channel:2", "sara")


async def side_tables(store: CopyableStore) -> dict[str, list[object]]:
    return {table: await store.side_rows(table) for table in SIDE_TABLES}


async def exports(store: CopyableStore) -> dict[str, str]:
    texts = {}
    sessions = await store.sessions_after(None, 1000)
    for session in sessions:
        for fmt in ("json", "md"):
            texts[f"{session.id}.{fmt}"] = await store.export_session(session.id, fmt)
    return texts


async def test_sqlite_to_postgresql_to_sqlite_keeps_every_export_byte_for_byte(
    tmp_path: Path, postgres_url: str
) -> None:
    first = await open_store(tmp_path / "first.db")
    middle = await open_store(postgres_url)
    last = await open_store(tmp_path / "last.db")
    try:
        await fill(first)
        there = await copy_store(first, middle)
        back = await copy_store(middle, last)
        assert there.matches and back.matches
        assert there.source.messages > 50 and there.source.refused == 6
        assert there.source_checksum == back.destination_checksum
        original = await exports(first)
        assert len(original) == 14
        sides = await side_tables(first)
        assert [len(rows) for rows in sides.values()] == [6, 2, 10]
        assert await side_tables(middle) == sides
        assert await side_tables(last) == sides
        assert there.source.side_rows == back.destination.side_rows == 18
        assert await exports(middle) == original
        assert await exports(last) == original
        for store in (middle, last):  # new ids continue after the copied ones
            kept = (await store.list_sessions(ListQuery(limit=1000))).items
            active = next(s for s in kept if s.status == "active" and s.binding_key)
            new = await store.append_message(active.id, role=Role.USER, content="x", tokens=1)
            assert new.id > there.source.messages
            bound = await store.active_session(active.binding_key or "")
            assert bound is not None and bound.id == active.id
    finally:
        for store in (first, middle, last):
            await store.close()


async def test_an_interrupted_copy_resumes_where_it_stopped(
    tmp_path: Path, postgres_url: str
) -> None:
    source = await open_store(tmp_path / "source.db")
    destination = await open_store(postgres_url)
    try:
        await fill(source)
        first_two = await source.sessions_after(None, 2)
        messages = [m for s in first_two async for batch in source.message_batches(s.id)
                    for m in batch]  # fmt: skip
        await destination.write_copied(first_two, messages)  # what the first batch wrote
        report = await copy_store(source, destination)
        assert report.resumed_after == first_two[-1].id
        assert report.matches
        assert await exports(destination) == await exports(source)
    finally:
        await source.close()
        await destination.close()


async def test_a_destination_holding_other_sessions_is_refused_untouched(
    tmp_path: Path, postgres_url: str
) -> None:
    source = await open_store(tmp_path / "source.db")
    destination = await open_store(postgres_url)
    try:
        await fill(source)
        mine = await destination.create_session(agent_id="ada", situation="Mine.")
        with pytest.raises(DestinationNotEmpty, match="not an interrupted copy"):
            await copy_store(source, destination)
        assert [s.id for s in await destination.sessions_after(None, 100)] == [mine.id]
    finally:
        await source.close()
        await destination.close()


def sessionbot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], env=env, cwd=REPO, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


async def test_the_db_copy_command_copies_and_verifies(tmp_path: Path, postgres_url: str) -> None:
    source = await open_store(tmp_path / "source.db")
    try:
        await fill(source)
        original = await exports(source)
    finally:
        await source.close()
    env = command_env(tmp_path, tmp_path)
    there = await asyncio.to_thread(
        sessionbot, env, "db", "copy", str(tmp_path / "source.db"), postgres_url
    )
    assert there.returncode == 0, there.stderr
    assert "counts and checksum match" in there.stdout
    assert "copying" in there.stderr and "100%" in there.stderr  # the progress bar
    assert "p%40ss" not in there.stdout + there.stderr  # the password stays out of the output
    back = await asyncio.to_thread(
        sessionbot, env, "db", "copy", postgres_url, f"sqlite://{tmp_path / 'back.db'}"
    )
    assert back.returncode == 0, back.stderr
    copied = await open_store(tmp_path / "back.db")
    try:
        assert await exports(copied) == original
    finally:
        await copied.close()
    again = await asyncio.to_thread(
        sessionbot, env, "db", "copy", str(tmp_path / "source.db"), str(tmp_path / "back.db")
    )
    assert again.returncode == 0, again.stderr  # the whole copy is there: nothing left to do


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["mysql://x/y", "b.db"], "SRC: sessionbot cannot store sessions in a mysql://"),
        (["missing.db", "b.db"], "does not exist"),
        (["a.db", "a.db"], "the same database"),
    ],
)
def test_db_copy_refuses_bad_arguments_in_one_line(
    tmp_path: Path, args: list[str], words: str
) -> None:
    env = command_env(tmp_path, tmp_path)
    (tmp_path / "a.db").touch()
    done = sessionbot(env, "db", "copy", *[str(tmp_path / a) if "/" not in a else a for a in args])
    assert done.returncode == 2
    assert words in done.stderr
    assert done.stderr.startswith("sessionbot: error:")
