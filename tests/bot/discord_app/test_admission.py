"""The notice a refused person sees: the limit, in words, and when to try again."""

from __future__ import annotations

import pytest

from bot.discord_app.admission import duration, notice, pace
from bot.engine.limits import Rate
from bot.engine.quota import Refusal


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "1 s"), (11.1, "12 s"), (119, "119 s"), (120, "2 min"), (3 * 3600 + 700, "3 h 12 min")],
)
def test_waits_are_short_and_rounded_up(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("rate", "text"),
    [(Rate(20, 60), "20 a minute"), (Rate(5, 3600), "5 an hour"), (Rate(3, 90), "3 every 90 s")],
)
def test_rates_read_as_words(rate: Rate, text: str) -> None:
    assert pace(rate) == text


def test_each_limit_has_its_sentence() -> None:
    person = Refusal("person", 11.5, Rate(20, 60), None, notify=True)
    assert notice(person) == (
        "You're sending messages faster than I can answer: 20 a minute here. Try again in 12 s."
    )
    server = Refusal("server", 30, Rate(120, 60), None, notify=True)
    assert notice(server) == (
        "This server is sending messages faster than I can answer: 120 a minute. Try again in 30 s."
    )
    tokens = Refusal("tokens", 3600 * 5, None, 200_000, notify=True)
    assert notice(tokens) == (
        "This server has used its 200,000 tokens for today (UTC). Try again in 5 h."
    )
