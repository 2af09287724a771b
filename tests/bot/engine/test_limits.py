"""Sliding-window rate limits: how many events pass, when the next may come, what is forgotten."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.engine.limits import SWEEP_EVERY, Rate, SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rates_are_read_as_n_per_seconds() -> None:
    assert Rate.parse("20/60") == Rate(20, 60.0)
    assert Rate.parse(" 3 / 0.5 ") == Rate(3, 0.5)
    assert str(Rate.parse("120/60")) == "120/60"
    for bad in ("20", "0/60", "20/0", "-1/60", "a/b", "20/60/1", ""):
        with pytest.raises(ValueError, match="N/SECONDS"):
            Rate.parse(bad)


def test_the_window_lets_n_through_then_says_how_long_to_wait() -> None:
    clock = Clock()
    window = SlidingWindow(Rate(3, 60), clock=clock)
    assert [window.hit("ana") for _ in range(3)] == [None, None, None]
    clock.now += 15
    assert window.hit("ana") == pytest.approx(45.0)
    assert window.hit("bob") is None  # another key has its own budget
    clock.now += 45
    assert window.hit("ana") is None  # the first event left the window


def test_the_window_slides_so_bursts_at_a_boundary_do_not_double_the_rate() -> None:
    clock = Clock()
    window = SlidingWindow(Rate(2, 10), clock=clock)
    clock.now += 9
    assert window.hit("k") is None and window.hit("k") is None
    clock.now += 2  # a fixed window would have reset here
    assert window.hit("k") == pytest.approx(8.0)


def test_refused_events_do_not_count() -> None:
    clock = Clock()
    window = SlidingWindow(Rate(1, 10), clock=clock)
    assert window.hit("k") is None
    for _ in range(5):
        clock.now += 1
        assert window.hit("k") is not None
    clock.now += 5
    assert window.hit("k") is None


def test_keys_whose_events_expired_are_forgotten() -> None:
    clock = Clock()
    window = SlidingWindow(Rate(1, 1), clock=clock)
    for person in range(SWEEP_EVERY - 1):
        window.hit(person)
    assert len(window) == SWEEP_EVERY - 1
    clock.now += 2
    window.hit("late")
    assert len(window) == 1


@given(st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), max_size=200))
def test_never_more_than_n_events_in_any_window(gaps: list[float]) -> None:
    clock = Clock()
    rate = Rate(4, 3)
    window = SlidingWindow(rate, clock=clock)
    accepted: list[float] = []
    for gap in gaps:
        clock.now += gap
        if window.hit("k") is None:
            accepted.append(clock.now)
    for i, start in enumerate(accepted):
        inside = [t for t in accepted[i:] if t < start + rate.seconds]
        assert len(inside) <= rate.count
