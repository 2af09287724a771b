"""Property tests: round trips, no unexpected exceptions, and misspelled keys found by line."""

from __future__ import annotations

import hashlib
import string
from pathlib import Path
from typing import Any

import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from situations import AgentProfile, PersonaLoadError
from situations.loader import parse_profile

PATH = Path("personas/prop.yaml")
FIELDS = set(AgentProfile.model_fields)
PROPERTIES = settings(max_examples=100, deadline=None)

# PyYAML's emitter (not its loader) mangles NEL (U+0085) in single-quoted scalars when
# allow_unicode=True, so the round trip leaves that one character out.
characters = st.characters(codec="utf-8", exclude_characters="\x85")
text = st.text(characters, max_size=40)
non_blank = text.filter(lambda value: value.strip() != "")
template_safe = st.text(
    st.characters(codec="utf-8", exclude_characters="\x85{}%#"),
    max_size=40,
).filter(lambda value: value.strip() != "")
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=8,
)
context = st.fixed_dictionaries(
    {},
    optional={
        "max_messages": st.integers(1, 2000),
        "token_budget": st.integers(100, 1_000_000),
        "overflow": st.sampled_from(["truncate", "summarize"]),
    },
)
exchange = st.fixed_dictionaries({"user": text, "assistant": text})
OPTIONAL: dict[str, st.SearchStrategy[Any]] = {
    "description": text,
    "model": st.none() | text,
    "temperature": st.none() | st.floats(0, 2),
    "max_tokens": st.none() | st.integers(1, 200_000),
    "greeting": st.none() | text,
    "example_dialogue": st.lists(exchange, max_size=3),
    "avatar_url": st.none() | st.sampled_from(["https://example.org/a.png", "http://x.y/z"]),
    "tags": st.lists(text, max_size=3),
    "context": context,
    "metadata": st.dictionaries(text, json_values, max_size=4),
}


@st.composite
def profile_dicts(draw: st.DrawFn) -> dict[str, Any]:
    templates = draw(st.booleans())
    required = {"name": non_blank, "situation": template_safe if templates else non_blank}
    data = draw(st.fixed_dictionaries(required, optional=OPTIONAL))
    if templates:
        data["render_templates"] = True
    return data


def dump(data: dict[str, Any]) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode("utf-8")


@PROPERTIES
@given(profile_dicts())
def test_valid_profiles_round_trip_through_yaml(data: dict[str, Any]) -> None:
    raw = dump(data)
    loaded = parse_profile(raw, PATH)
    version = hashlib.sha256(raw).hexdigest()[:12]
    expected = AgentProfile.model_validate(
        {**data, "id": "prop", "version": version, "source": PATH}
    )
    assert loaded == expected


@PROPERTIES
@given(
    st.binary(max_size=300)
    | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))
)
def test_arbitrary_input_only_raises_persona_load_error(raw: bytes) -> None:
    try:
        parse_profile(raw, PATH)
    except PersonaLoadError as exc:
        assert exc.errors
        assert all(error.path == PATH for error in exc.errors)


yamlish = st.lists(
    st.sampled_from(
        [
            "name: x",
            "situation: y",
            "- a",
            "  b: 1",
            ": :",
            "[",
            "]",
            "{",
            "'",
            '"',
            "&a",
            "*a",
            "!!int",
            "---",
            "? k",
            "<<: *a",
            "\t",
            "key: |",
            "  text",
        ]
    ),
    max_size=12,
).map(lambda lines: "\n".join(lines).encode())


@PROPERTIES
@given(yamlish)
def test_yaml_like_garbage_only_raises_persona_load_error(raw: bytes) -> None:
    try:
        parse_profile(raw, PATH)
    except PersonaLoadError as exc:
        assert exc.errors


@st.composite
def misspellings(draw: st.DrawFn, key: str) -> str:
    alphabet = string.ascii_lowercase + "_"
    position = draw(st.integers(0, len(key)))
    kind = draw(st.sampled_from(["insert", "replace", "drop"]))
    letter = draw(st.sampled_from(alphabet))
    if kind == "insert":
        return key[:position] + letter + key[position:]
    if kind == "replace" and position < len(key):
        return key[:position] + letter + key[position + 1 :]
    return key[:position] + key[position + 1 :]


@PROPERTIES
@given(st.data())
def test_misspelled_key_is_reported_on_its_line(data: st.DataObject) -> None:
    profile = data.draw(profile_dicts())
    keys = list(profile)
    index = data.draw(st.integers(0, len(keys) - 1))
    wrong = data.draw(misspellings(keys[index]))
    assume(wrong and wrong not in FIELDS and wrong not in profile)
    items = list(profile.items())
    items[index] = (wrong, items[index][1])
    misspelled = dict(items)
    before = dict(items[:index])
    expected_line = 1 + (len(dump(before).decode().splitlines()) if before else 0)
    try:
        parse_profile(dump(misspelled), PATH)
    except PersonaLoadError as exc:
        found = [(error.line, error.field) for error in exc.errors]
        assert (expected_line, wrong) in found
        message = next(error.message for error in exc.errors if error.field == wrong)
        assert message.startswith(f"unknown field {wrong!r}")
    else:
        raise AssertionError(f"misspelled key {wrong!r} was accepted")
