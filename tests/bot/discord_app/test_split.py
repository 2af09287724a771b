"""Splitting long replies into Discord-sized parts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord_app.split import FENCE, MESSAGE_LIMIT, fence_state, split_reply

WORD = st.text(alphabet="abcdefghij<>@#:", min_size=1, max_size=30)
LINE = st.lists(WORD, min_size=1, max_size=30).map(" ".join)
PARAGRAPH = st.lists(LINE, min_size=1, max_size=6).map("\n".join)
CODE = st.tuples(st.sampled_from(["", "python", "js"]), PARAGRAPH).map(
    lambda block: f"{FENCE}{block[0]}\n{block[1]}\n{FENCE}"
)
DOCUMENT = st.lists(st.one_of(PARAGRAPH, CODE), min_size=1, max_size=40).map("\n\n".join)


def test_short_text_is_one_part() -> None:
    assert split_reply("hello") == ["hello"]


def test_text_of_exactly_the_limit_is_one_part() -> None:
    text = "a" * MESSAGE_LIMIT
    assert split_reply(text) == [text]


def test_splits_at_a_paragraph_break_first() -> None:
    first = "word " * 300  # 1500 characters
    text = first.strip() + "\n\n" + "line one\nline two " + "x " * 300
    parts = split_reply(text)
    assert parts[0] == first.strip()
    assert parts[1].startswith("line one\nline two")


def test_splits_at_a_line_break_when_no_paragraph_fits() -> None:
    text = "\n".join(["line of text " * 10] * 30)
    parts = split_reply(text)
    assert len(parts) > 1
    assert all(len(part) <= MESSAGE_LIMIT for part in parts)
    assert all(part.rstrip().endswith("line of text") for part in parts[:-1])
    whole = ("line of text " * 10).strip()
    assert all(line.strip() == whole for part in parts for line in part.splitlines())


def test_splits_at_a_space_and_never_inside_a_word() -> None:
    words = [f"w{i:04d}" for i in range(700)]
    parts = split_reply(" ".join(words))
    assert len(parts) == 3
    assert " ".join(parts).split() == words


def test_a_word_longer_than_the_limit_is_cut() -> None:
    parts = split_reply("z" * 4500)
    assert "".join(parts) == "z" * 4500
    assert all(len(part) <= MESSAGE_LIMIT for part in parts)


def test_a_cut_code_block_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"print({i})" for i in range(400))
    text = f"Here you go:\n\n```python\n{code}\n```\n\nDone."
    parts = split_reply(text)
    assert len(parts) >= 2
    assert parts[0].endswith("\n```")
    for part in parts[1:]:
        assert part.startswith("```python\n")
    for part in parts:
        assert part.count(FENCE) % 2 == 0
        assert len(part) <= MESSAGE_LIMIT
    assert parts[-1].endswith("```\n\nDone.")
    restored = "\n".join(
        line for part in parts for line in part.splitlines() if not line.startswith(FENCE)
    )
    assert [line for line in restored.splitlines() if line.startswith("print(")] == [
        f"print({i})" for i in range(400)
    ]


def test_a_block_without_language_reopens_bare() -> None:
    code = "\n".join("x = 1" for _ in range(600))
    parts = split_reply(f"```\n{code}\n```")
    assert parts[1].startswith("```\nx = 1")


def test_fence_state_tracks_language_and_closing() -> None:
    assert not fence_state("no code").open
    assert fence_state("a\n```rust\nfn main() {}").language == "rust"
    assert not fence_state("```rust\nfn main() {}\n```").open
    assert not fence_state("inline ```x``` code").open


@settings(max_examples=200, deadline=None)
@given(DOCUMENT, st.integers(min_value=60, max_value=MESSAGE_LIMIT))
def test_parts_fit_keep_every_word_and_balance_fences(text: str, limit: int) -> None:
    parts = split_reply(text, limit)
    assert parts
    assert all(0 < len(part) <= limit for part in parts)
    assert all(part.count(FENCE) % 2 == 0 for part in parts)
    words = [word for part in parts for word in part.split() if not word.startswith(FENCE)]
    assert words == [word for word in text.split() if not word.startswith(FENCE)]
