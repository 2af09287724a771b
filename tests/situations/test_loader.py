"""Loading valid persona files, and checking a whole directory."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from situations import (
    AgentProfile,
    ContextSettings,
    ExampleExchange,
    PersonaError,
    PersonaNotFound,
    check_directory,
    load_profile,
)
from tests.situations.conftest import MINIMAL, write

FULL = """\
# yaml-language-server: $schema=./persona.schema.json
name: Sara
description: Coach
situation: |
  You are Sara.
model: llama3
temperature: 0.7
max_tokens: 500
greeting: Hi!
example_dialogue:
  - user: hello
    assistant: hi there
avatar_url: https://example.org/sara.png
tags: [coach, wellbeing]
context:
  max_messages: 10
  token_budget: 2000
  overflow: summarize
render_templates: false
metadata:
  db_uuid: "1234"
  level: 2
  nested: {a: [1, 2.5, null, true]}
"""


def test_full_profile_loads_every_field(personas: Path) -> None:
    path = write(personas, "sara.yaml", FULL)
    profile = load_profile(path)
    assert profile == AgentProfile(
        id="sara",
        name="Sara",
        description="Coach",
        situation="You are Sara.\n",
        model="llama3",
        temperature=0.7,
        max_tokens=500,
        greeting="Hi!",
        example_dialogue=[ExampleExchange(user="hello", assistant="hi there")],
        avatar_url="https://example.org/sara.png",
        tags=["coach", "wellbeing"],
        context=ContextSettings(max_messages=10, token_budget=2000, overflow="summarize"),
        render_templates=False,
        metadata={"db_uuid": "1234", "level": 2, "nested": {"a": [1, 2.5, None, True]}},
        version=hashlib.sha256(FULL.encode()).hexdigest()[:12],
        source=path,
    )


def test_minimal_profile_gets_the_defaults(personas: Path) -> None:
    profile = load_profile(write(personas, "sara.yaml", MINIMAL))
    assert profile.description == ""
    assert profile.model is None
    assert profile.temperature is None
    assert profile.max_tokens is None
    assert profile.greeting is None
    assert profile.example_dialogue == []
    assert profile.tags == []
    assert profile.context == ContextSettings(
        max_messages=40, token_budget=3000, overflow="truncate"
    )
    assert profile.render_templates is False
    assert profile.metadata == {}


def test_whole_number_temperature_is_accepted(personas: Path) -> None:
    profile = load_profile(write(personas, "sara.yaml", MINIMAL + "temperature: 1\n"))
    assert profile.temperature == 1.0


def test_id_comes_from_the_file_stem_and_yml_works(personas: Path) -> None:
    assert load_profile(write(personas, "game-master_2.yml", MINIMAL)).id == "game-master_2"


def test_version_changes_with_the_content(personas: Path) -> None:
    path = write(personas, "sara.yaml", MINIMAL)
    first = load_profile(path).version
    write(personas, "sara.yaml", MINIMAL + "# a comment\n")
    second = load_profile(path).version
    assert len(first) == len(second) == 12
    assert first != second


def test_byte_order_mark_and_crlf_are_fine(personas: Path) -> None:
    path = personas / "sara.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: Sara\r\nsituation: x\r\n")
    assert load_profile(path).name == "Sara"


def test_anchors_and_merge_keys_work(personas: Path) -> None:
    text = MINIMAL + "context: &c {max_messages: 5}\nmetadata:\n  <<: {a: 1}\n  b: 2\n"
    profile = load_profile(write(personas, "sara.yaml", text))
    assert profile.context.max_messages == 5
    assert profile.metadata == {"a": 1, "b": 2}


def test_profile_is_frozen(personas: Path) -> None:
    profile = load_profile(write(personas, "sara.yaml", MINIMAL))
    with pytest.raises(ValueError, match="frozen"):
        profile.name = "Other"


def test_check_directory_loads_good_files_despite_bad_ones(personas: Path) -> None:
    write(personas, "a.yaml", MINIMAL)
    write(personas, "b.yaml", "name: [\n")
    write(personas, "bb.yaml", "name: [a, b\nsituation: x\n")
    write(personas, "c.yml", MINIMAL)
    write(personas, "d.yaml", "name: D\n")
    profiles, errors = check_directory(personas)
    assert [profile.id for profile in profiles] == ["a", "c"]
    assert [str(error) for error in errors] == [
        "personas/b.yaml:2: YAML syntax error: the file ends in the middle of a value",
        "personas/bb.yaml:1: YAML syntax error: a '[' is opened here and never closed",
        "personas/d.yaml:1: situation: is required",
    ]
    assert errors[0].path == Path("personas/b.yaml")


def test_check_directory_ignores_other_and_hidden_files(personas: Path) -> None:
    write(personas, "sara.yaml", MINIMAL)
    write(personas, "persona.schema.json", "{}")
    write(personas, "README.md", "# personas")
    write(personas, ".sara.yaml", "not: [valid")
    write(personas, "sara.yaml~", "not: [valid")
    (personas / "folder.yaml").mkdir()
    profiles, errors = check_directory(personas)
    assert [profile.id for profile in profiles] == ["sara"]
    assert errors == []


def test_check_directory_reports_two_files_with_one_id(personas: Path) -> None:
    write(personas, "sara.yaml", MINIMAL)
    write(personas, "sara.yml", MINIMAL)
    profiles, errors = check_directory(personas)
    assert [profile.source for profile in profiles] == [Path("personas/sara.yaml")]
    assert [str(error) for error in errors] == [
        "personas/sara.yml: persona id 'sara' is already defined by personas/sara.yaml; "
        "rename or remove one"
    ]


def test_check_directory_on_a_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    reason = "cannot read the persona directory: No such file or directory"
    assert check_directory(missing) == ([], [PersonaError(missing, None, None, reason)])


def test_persona_not_found_lists_what_exists() -> None:
    error = PersonaNotFound("sarah", ["tutor", "sara"])
    assert str(error) == (
        "There is no persona 'sarah'. Did you mean 'sara'? Available personas: sara, tutor."
    )
    assert str(PersonaNotFound("x", [])) == "There is no persona 'x': no personas are loaded."
