"""Hot reload through the real watchfiles watcher on a temporary directory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from situations import PersonaRegistry, ReloadReport
from tests.situations.conftest import MINIMAL, eventually, write


@asynccontextmanager
async def watching(
    registry: PersonaRegistry, reports: list[ReloadReport] | None = None
) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()

    async def record(report: ReloadReport) -> None:
        if reports is not None:
            reports.append(report)

    task = asyncio.create_task(registry.watch(stop=stop, on_reload=record))
    try:
        await eventually(lambda: registry.is_watching, "the watcher starting")
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    assert not registry.is_watching


async def test_edit_is_picked_up_by_the_watcher(personas: Path) -> None:
    path = write(personas, "sara.yaml", MINIMAL)
    registry = PersonaRegistry(personas)
    reports: list[ReloadReport] = []
    async with watching(registry, reports):
        assert registry.get("sara").name == "Sara"  # watch() loads before watching
        path.write_text(MINIMAL.replace("Sara", "Sara Edited"), encoding="utf-8")
        await eventually(lambda: registry.get("sara").name == "Sara Edited", "the reload")
    assert reports == [ReloadReport(added=["sara"]), ReloadReport(updated=["sara"])]


async def test_added_and_removed_files_through_the_watcher(personas: Path) -> None:
    registry = PersonaRegistry(personas)
    async with watching(registry):
        path = write(personas, "tutor.yaml", MINIMAL)
        await eventually(lambda: registry.maybe_get("tutor") is not None, "the new persona")
        path.unlink()
        await eventually(lambda: registry.maybe_get("tutor") is None, "the removal")


async def test_bad_edit_through_the_watcher_keeps_the_last_good_version(personas: Path) -> None:
    path = write(personas, "sara.yaml", MINIMAL)
    registry = PersonaRegistry(personas)
    async with watching(registry):
        path.write_text("name: [\n", encoding="utf-8")
        await eventually(lambda: bool(registry.errors), "the error")
        assert registry.get("sara").name == "Sara"
        path.write_text(MINIMAL.replace("Sara", "Fixed"), encoding="utf-8")
        await eventually(lambda: registry.get("sara").name == "Fixed", "the fix")
        assert registry.errors == []


async def test_failing_callback_does_not_stop_the_watcher(personas: Path) -> None:
    registry = PersonaRegistry(personas)
    stop = asyncio.Event()
    calls: list[ReloadReport] = []

    def explode(report: ReloadReport) -> None:
        calls.append(report)
        raise RuntimeError("callback bug")

    task = asyncio.create_task(registry.watch(stop=stop, on_reload=explode))
    await eventually(lambda: registry.is_watching, "the watcher starting")
    write(personas, "a.yaml", MINIMAL)
    await eventually(lambda: len(calls) == 1, "the first callback")
    write(personas, "b.yaml", MINIMAL)
    await eventually(lambda: len(calls) == 2, "the second callback")
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert [report.added for report in calls] == [["a"], ["b"]]
