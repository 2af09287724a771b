"""Lorebooks: which entries a reply's recent messages fire, in what order, within what budget;
and the file:line errors of a badly written `lore` field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from situations import load_profile
from situations.lore import Lorebook, LoreEntry, select_lore
from tests.situations.conftest import load_errors, write


def words(text: str) -> int:
    return len(text.split())


def book(*entries: dict[str, Any], **settings: Any) -> Lorebook:
    return Lorebook.model_validate({"entries": list(entries), **settings})


def fired(lore: Lorebook, *messages: str) -> list[str]:
    return [entry.content for entry in select_lore(lore, list(messages), words)]


def test_an_entry_fires_when_a_key_appears_as_a_word() -> None:
    lore = book({"keys": ["dragon", "wyrm"], "content": "D"})
    assert fired(lore, "I saw a Wyrm today") == ["D"]
    assert fired(lore, "dragonfly season") == []
    assert fired(lore, "nothing here") == []


def test_case_sensitive_keys_match_their_case_only() -> None:
    lore = book({"keys": ["Rose"], "content": "R", "case_sensitive": True})
    assert fired(lore, "a rose") == []
    assert fired(lore, "Rose said") == ["R"]


def test_selective_entries_need_a_secondary_key_too() -> None:
    lore = book({"keys": ["king"], "secondary_keys": ["crown", "throne"], "selective": True,
                 "content": "K"})  # fmt: skip
    assert fired(lore, "the king") == []
    assert fired(lore, "the king's throne") == ["K"]


def test_constant_entries_always_fire_and_disabled_ones_never() -> None:
    lore = book(
        {"constant": True, "content": "C"},
        {"keys": ["x"], "content": "X", "enabled": False},
    )
    assert fired(lore, "x") == ["C"]


def test_only_the_last_scan_depth_messages_are_searched() -> None:
    lore = book({"keys": ["kraken"], "content": "K"}, scan_depth=2)
    assert fired(lore, "kraken!", "hello", "there") == []
    assert fired(lore, "kraken!", "hello") == ["K"]
    assert fired(book({"keys": ["kraken"], "content": "K"}, scan_depth=0), "kraken") == []


def test_highest_priority_goes_first_then_insertion_order() -> None:
    lore = book(
        {"keys": ["a"], "content": "low", "priority": 1},
        {"keys": ["a"], "content": "second", "priority": 5, "insertion_order": 2},
        {"keys": ["a"], "content": "first", "priority": 5, "insertion_order": 1},
    )
    assert fired(lore, "a") == ["first", "second", "low"]


def test_entries_over_the_budget_are_left_out_lower_priority_first() -> None:
    lore = book(
        {"keys": ["a"], "content": "three words here", "priority": 9},
        {"keys": ["a"], "content": "two words", "priority": 5},
        {"keys": ["a"], "content": "one", "priority": 1},
        token_budget=4,
    )
    assert fired(lore, "a") == ["three words here", "one"]


def test_the_label_is_the_name_or_the_first_key() -> None:
    assert LoreEntry(keys=["k"], content="c", name="N").label == "N"
    assert LoreEntry(keys=["", "k"], content="c").label == "k"


def test_lore_errors_name_the_file_line_and_field(personas: Path) -> None:
    text = (
        "name: Sara\nsituation: x\nlore:\n  scan_depth: -1\n  entries:\n"
        "    - keys: [a]\n      content: fine\n"
        "    - content: no keys\n"
        "    - keys: a\n      content: x\n      priorty: 3\n"
    )
    assert load_errors(write(personas, "sara.yaml", text)) == [
        "personas/sara.yaml:4: lore.scan_depth: must be >= 0",
        "personas/sara.yaml:8: lore.entries[1]: an entry needs at least one key, unless it is "
        "constant: true",
        "personas/sara.yaml:9: lore.entries[2].keys: must be a list, got 'a'",
        "personas/sara.yaml:11: lore.entries[2].priorty: unknown field 'priorty' (did you mean "
        "'priority'?)",
    ]


def test_templated_texts_are_checked_when_the_file_loads(personas: Path) -> None:
    text = (
        "name: Sara\nsituation: Hi {{ user }}\nrender_templates: true\n"
        "greeting: Hello {{ usr }}\n"
        "lore:\n  entries:\n    - keys: [a]\n      content: '{% if %}'\n"
    )
    assert load_errors(write(personas, "sara.yaml", text)) == [
        "personas/sara.yaml:4: greeting: template line 1: unknown variable 'usr' (did you mean "
        "'user'?); available: user, persona, place, metadata, now, date, time",
        "personas/sara.yaml:8: lore.entries[0].content: template line 1: expected an "
        "expression, got 'end of statement block'",
    ]


def test_a_well_written_lorebook_loads(personas: Path) -> None:
    text = (
        "name: Sara\nsituation: x\npost_history_instructions: Be brief.\n"
        "lore:\n  token_budget: 100\n  entries:\n"
        "    - keys: [tea]\n      content: Sara likes tea.\n"
    )
    profile = load_profile(write(personas, "sara.yaml", text))
    assert profile.lore is not None and profile.lore.entries[0].keys == ["tea"]
    assert profile.post_history_instructions == "Be brief."
