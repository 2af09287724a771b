"""Per-key job queues keep order within a key and run keys concurrently."""

from __future__ import annotations

import asyncio

import pytest

from bot.discord_app.serial import Job, SerialQueues


async def test_jobs_of_one_key_run_in_order_and_keys_run_concurrently() -> None:
    queues = SerialQueues("test")
    log: list[str] = []
    gate = asyncio.Event()

    def job(key: str, number: int, wait: bool = False) -> Job:
        async def run() -> None:
            if wait:
                await gate.wait()
            await asyncio.sleep(0.001 * (5 - number))
            log.append(f"{key}{number}")

        return run

    for number in range(5):
        queues.submit("a", job("a", number, wait=number == 0))
    queues.submit("b", job("b", 0))
    await asyncio.sleep(0.05)
    assert log == ["b0"]  # b is not stuck behind a
    gate.set()
    await queues.join()
    assert log == ["b0", "a0", "a1", "a2", "a3", "a4"]
    assert len(queues) == 0


async def test_a_failing_job_is_logged_and_the_next_runs(caplog: pytest.LogCaptureFixture) -> None:
    queues = SerialQueues("test")
    done: list[int] = []

    async def boom() -> None:
        raise RuntimeError("boom")

    async def fine() -> None:
        done.append(1)

    queues.submit("k", boom)
    queues.submit("k", fine)
    await queues.join()
    assert done == [1]
    assert "a job for k failed" in caplog.text


async def test_close_cancels_running_and_drops_queued_jobs() -> None:
    queues = SerialQueues("test")
    started = asyncio.Event()
    ran: list[str] = []

    async def slow() -> None:
        started.set()
        await asyncio.sleep(60)

    async def later() -> None:
        ran.append("later")

    queues.submit("k", slow)
    queues.submit("k", later)
    await started.wait()
    await queues.close()
    queues.submit("k", later)
    await asyncio.sleep(0)
    assert ran == []


async def test_a_key_keeps_nothing_once_its_jobs_are_done() -> None:
    queues = SerialQueues("test")
    gate = asyncio.Event()

    async def waits() -> None:
        await gate.wait()

    async def fails() -> None:
        raise RuntimeError("boom")

    for key in ("a", "b", "c"):
        queues.submit(key, waits)
        queues.submit(key, fails)
    await asyncio.sleep(0)
    assert queues.kept == 6  # a queue and a worker per key
    gate.set()
    await queues.join()
    assert queues.kept == 0
    queues.submit("d", waits)
    gate.clear()
    await asyncio.sleep(0)
    await queues.close()
    assert queues.kept == 0


async def test_with_a_running_limit_the_other_keys_wait_their_turn_in_order() -> None:
    queues = SerialQueues("test", running=2)
    gate = asyncio.Event()
    started: list[str] = []

    def job(key: str) -> Job:
        async def run() -> None:
            started.append(key)
            await gate.wait()

        return run

    for key in "abcde":
        queues.submit(key, job(key))
    queues.submit("a", job("a2"))
    await asyncio.sleep(0.01)
    assert started == ["a", "b"]  # two at a time; the others are queued, not begun
    gate.set()
    await queues.join()
    assert started[:2] == ["a", "b"] and sorted(started) == ["a", "a2", "b", "c", "d", "e"]
    assert started.index("a2") > started.index("a")
    assert queues.kept == 0


def test_a_running_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SerialQueues("test", running=0)
