"""KeyedLocks: one lock per session, dropped again once nobody holds or waits for it."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import pytest

from storage.locks import ENDS_KEPT, KeyedLocks

BOUND = 5.0  # seconds; a liveness bound, never reached when the locks work


async def hold_until(
    locks: KeyedLocks, key: UUID, entered: asyncio.Event, release: asyncio.Event
) -> None:
    async with locks.hold(key):
        entered.set()
        await release.wait()


async def let_others_run() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_a_second_holder_of_the_same_key_waits_for_the_first() -> None:
    locks, key = KeyedLocks(), uuid4()
    first_in, first_go = asyncio.Event(), asyncio.Event()
    second_in, second_go = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(hold_until(locks, key, first_in, first_go))
    await asyncio.wait_for(first_in.wait(), BOUND)

    second = asyncio.create_task(hold_until(locks, key, second_in, second_go))
    await let_others_run()
    assert not second_in.is_set()
    assert len(locks) == 1  # one entry per key, however many wait

    first_go.set()
    await asyncio.wait_for(second_in.wait(), BOUND)
    assert first.done()
    second_go.set()
    await asyncio.wait_for(second, BOUND)
    assert len(locks) == 0


async def test_different_keys_are_held_at_the_same_time() -> None:
    locks = KeyedLocks()
    one_in, two_in, release = asyncio.Event(), asyncio.Event(), asyncio.Event()
    one = asyncio.create_task(hold_until(locks, uuid4(), one_in, release))
    two = asyncio.create_task(hold_until(locks, uuid4(), two_in, release))

    await asyncio.wait_for(asyncio.gather(one_in.wait(), two_in.wait()), BOUND)
    assert len(locks) == 2

    release.set()
    await asyncio.wait_for(asyncio.gather(one, two), BOUND)
    assert len(locks) == 0


async def test_the_entry_is_dropped_when_the_last_holder_leaves() -> None:
    locks, key = KeyedLocks(), uuid4()
    async with locks.hold(key):
        assert len(locks) == 1
    assert len(locks) == 0


async def test_an_exception_inside_releases_the_key_and_drops_the_entry() -> None:
    locks, key = KeyedLocks(), uuid4()
    with pytest.raises(RuntimeError, match="boom"):
        async with locks.hold(key):
            raise RuntimeError("boom")
    assert len(locks) == 0
    async with asyncio.timeout(BOUND), locks.hold(key):  # free again at once
        assert len(locks) == 1


async def test_a_cancelled_holder_releases_the_key_and_drops_the_entry() -> None:
    locks, key = KeyedLocks(), uuid4()
    entered, never = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(hold_until(locks, key, entered, never))
    await asyncio.wait_for(entered.wait(), BOUND)

    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
    assert len(locks) == 0
    async with asyncio.timeout(BOUND), locks.hold(key):
        pass


async def test_a_cancelled_waiter_leaves_the_holders_entry_until_it_is_released() -> None:
    locks, key = KeyedLocks(), uuid4()
    held, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(hold_until(locks, key, held, release))
    await asyncio.wait_for(held.wait(), BOUND)
    waiter_in = asyncio.Event()
    waiter = asyncio.create_task(hold_until(locks, key, waiter_in, asyncio.Event()))
    await let_others_run()

    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not waiter_in.is_set()
    assert len(locks) == 1  # still held by the first

    release.set()
    await asyncio.wait_for(holder, BOUND)
    assert len(locks) == 0


async def test_many_tasks_on_one_key_run_one_at_a_time() -> None:
    locks, key = KeyedLocks(), uuid4()
    inside = 0
    most_inside = 0

    async def work() -> None:
        nonlocal inside, most_inside
        async with locks.hold(key):
            inside += 1
            most_inside = max(most_inside, inside)
            await let_others_run()
            inside -= 1

    await asyncio.wait_for(asyncio.gather(*(work() for _ in range(20))), BOUND)
    assert most_inside == 1
    assert len(locks) == 0


async def test_a_hold_ended_after_a_mark_is_told_and_one_before_it_is_not() -> None:
    locks, key, other = KeyedLocks(), uuid4(), uuid4()
    async with locks.hold(key):
        pass
    mark = locks.mark()
    assert not locks.held_since(key, mark)
    async with locks.hold(other):
        pass
    assert not locks.held_since(key, mark)  # another key's hold is not this one's
    async with locks.hold(key):
        assert not locks.held_since(key, mark)  # told once the hold has ended
    assert locks.held_since(key, mark)


async def test_forgotten_hold_ends_count_as_after_every_older_mark() -> None:
    locks, key = KeyedLocks(), uuid4()
    async with locks.hold(key):
        pass
    mark = locks.mark()
    for _ in range(ENDS_KEPT):  # more keys than are remembered
        async with locks.hold(uuid4()):
            pass
    assert locks.held_since(key, mark)  # it may have been held: not known any more
    assert not locks.held_since(key, locks.mark())
