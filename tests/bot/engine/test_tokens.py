"""The offline token estimate that budgets a context window."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.engine.tokens import MESSAGE_OVERHEAD, estimate_tokens, message_tokens


@pytest.mark.parametrize("text", ["", " ", "\n\t  \n"])
def test_empty_or_blank_text_costs_nothing(text: str) -> None:
    assert estimate_tokens(text) == 0


def test_each_short_word_and_punctuation_mark_is_a_token() -> None:
    assert estimate_tokens("hello") == 1
    assert estimate_tokens("hello world") == 2
    assert estimate_tokens("Hello, world!") == 4
    assert estimate_tokens("  big   red  ") == 2


def test_long_words_are_split_into_pieces_of_about_five_characters() -> None:
    assert estimate_tokens("a" * 5) == 1
    assert estimate_tokens("a" * 6) == 2
    assert estimate_tokens("antidisestablishmentarianism") == 6  # 28 characters
    assert estimate_tokens("x" * 1000) == 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你好", 1),
        ("你好世界", 2),
        ("こんにちは", 3),
        ("привет", 3),
        ("مرحبا", 3),
    ],
)
def test_non_latin_scripts_take_a_token_per_one_or_two_characters(text: str, expected: int) -> None:
    assert estimate_tokens(text) == expected


def test_a_non_latin_word_costs_more_than_a_latin_word_of_the_same_length() -> None:
    assert estimate_tokens("привет") > estimate_tokens("privet")


def test_a_message_pays_for_its_framing_on_top_of_its_text() -> None:
    assert MESSAGE_OVERHEAD > 0
    assert message_tokens("") == MESSAGE_OVERHEAD
    assert message_tokens("Hello, world!") == estimate_tokens("Hello, world!") + MESSAGE_OVERHEAD


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text())
def test_appending_text_never_lowers_the_estimate(text: str, more: str) -> None:
    assert estimate_tokens(text + more) >= estimate_tokens(text)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_the_estimate_is_at_most_one_token_per_character(text: str) -> None:
    assert 0 <= estimate_tokens(text) <= len(text)
    assert (estimate_tokens(text) == 0) == (text.strip() == "")
