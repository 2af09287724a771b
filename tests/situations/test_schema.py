"""The committed persona.schema.json is the generated one, and the shipped personas fit it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from situations import AgentProfile, ContextSettings, ExampleExchange, profile_json_schema

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "personas" / "persona.schema.json"
SHIPPED = sorted((REPO / "personas").glob("*.yaml"))
LOADER_FIELDS = {"id", "version", "source"}
JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": type(None),
}


def generated_text() -> str:
    return json.dumps(profile_json_schema(), indent=2) + "\n"


def test_committed_schema_is_up_to_date() -> None:
    """Regenerate with: SESSIONBOT_WRITE_SCHEMA=1 pytest tests/situations/test_schema.py"""
    if os.environ.get("SESSIONBOT_WRITE_SCHEMA") == "1":
        SCHEMA_FILE.write_text(generated_text(), encoding="utf-8")
    assert SCHEMA_FILE.read_text(encoding="utf-8") == generated_text(), (
        "personas/persona.schema.json is stale; regenerate it with "
        "SESSIONBOT_WRITE_SCHEMA=1 pytest tests/situations/test_schema.py"
    )


def test_schema_is_draft_2020_12_with_every_yaml_field() -> None:
    schema = profile_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]) == set(AgentProfile.model_fields) - LOADER_FIELDS
    assert schema["required"] == ["name", "situation"]
    assert schema["additionalProperties"] is False
    definitions = schema["$defs"]
    assert set(definitions["ContextSettings"]["properties"]) == set(ContextSettings.model_fields)
    assert set(definitions["ExampleExchange"]["properties"]) == set(ExampleExchange.model_fields)


def test_every_property_has_a_title_and_description() -> None:
    schema = profile_json_schema()
    objects = [schema, *(d for d in schema["$defs"].values() if "properties" in d)]
    for obj in objects:
        for name, prop in obj["properties"].items():
            assert prop.get("title"), name
            assert prop.get("description"), name


def test_every_object_is_closed_except_the_json_values() -> None:
    schema = profile_json_schema()
    objects = [schema, *(d for d in schema["$defs"].values() if d.get("type") == "object")]
    assert len(objects) == 5  # persona, context, example, lorebook, lore entry
    assert all(obj["additionalProperties"] is False for obj in objects)
    assert schema["properties"]["metadata"]["type"] == "object"
    assert schema["properties"]["card"]["type"] == "object"


def test_schema_generation_does_not_change_the_model_schema() -> None:
    profile_json_schema()["properties"].clear()
    assert "id" in AgentProfile.model_json_schema()["properties"]
    assert profile_json_schema()["properties"]


def check(instance: Any, schema: dict[str, Any], root: dict[str, Any]) -> list[str]:
    """A small validator for the keywords this schema uses; returns the problems found."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return check(instance, root["$defs"][name], root)
    if "anyOf" in schema:
        results = [check(instance, option, root) for option in schema["anyOf"]]
        return [] if any(not result for result in results) else [f"{instance!r}: no anyOf match"]
    kind = schema.get("type")
    if kind is not None and not isinstance(instance, JSON_TYPES[kind]):
        return [f"{instance!r}: not {kind}"]
    if kind in ("integer", "number") and isinstance(instance, bool):
        return [f"{instance!r}: not {kind}"]
    problems = []
    if "enum" in schema and instance not in schema["enum"]:
        problems.append(f"{instance!r}: not in enum")
    if "minimum" in schema and instance < schema["minimum"]:
        problems.append(f"{instance!r}: below minimum")
    if "maximum" in schema and instance > schema["maximum"]:
        problems.append(f"{instance!r}: above maximum")
    if "minLength" in schema and len(instance) < schema["minLength"]:
        problems.append(f"{instance!r}: too short")
    if "pattern" in schema and not re.search(schema["pattern"], instance):
        problems.append(f"{instance!r}: pattern")
    if isinstance(instance, list) and "items" in schema:
        for item in instance:
            problems += check(item, schema["items"], root)
    if isinstance(instance, dict):
        problems += check_object(instance, schema, root)
    return problems


def check_object(
    instance: dict[str, Any], schema: dict[str, Any], root: dict[str, Any]
) -> list[str]:
    properties = schema.get("properties", {})
    problems = [f"missing {name}" for name in schema.get("required", []) if name not in instance]
    for key, value in instance.items():
        if key in properties:
            problems += check(value, properties[key], root)
        elif schema.get("additionalProperties") is False:
            problems.append(f"extra {key}")
        elif isinstance(schema.get("additionalProperties"), dict):
            problems += check(value, schema["additionalProperties"], root)
    return problems


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_shipped_persona_validates_against_the_schema(path: Path) -> None:
    schema = profile_json_schema()
    assert check(yaml.safe_load(path.read_text(encoding="utf-8")), schema, schema) == []


def test_schema_check_rejects_what_the_loader_rejects() -> None:
    schema = profile_json_schema()
    bad = {
        "name": "",
        "temprature": 1,
        "temperature": 3,
        "context": {"overflow": "drop", "max_messages": 0, "extra": 1},
        "example_dialogue": [{"user": "hi"}],
        "avatar_url": "ftp://x",
    }
    assert sorted(check(bad, schema, schema)) == sorted(
        [
            "'': too short",
            "extra temprature",
            "3: no anyOf match",
            "'drop': not in enum",
            "0: below minimum",
            "extra extra",
            "missing assistant",
            "'ftp://x': no anyOf match",
            "missing situation",
        ]
    )
