"""JSON Schema of a persona YAML file, for editors (yaml-language-server) and documentation."""

from __future__ import annotations

import copy
from typing import Any

from situations.models import LOADER_FIELDS, AgentProfile

__all__ = ["SCHEMA_DIALECT", "profile_json_schema"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def profile_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a persona file.

    Generated from AgentProfile, without the fields the loader sets (id, version, source).
    Every object is closed (``additionalProperties: false``) except ``metadata``, ``card`` and
    the lore's ``extra`` fields, which hold arbitrary JSON by design.
    """
    generated = copy.deepcopy(AgentProfile.model_json_schema(mode="validation"))
    properties = {
        name: prop for name, prop in generated["properties"].items() if name not in LOADER_FIELDS
    }
    required = [name for name in generated.get("required", []) if name not in LOADER_FIELDS]
    definitions = generated.get("$defs", {})
    if "JsonValue" in definitions:
        definitions["JsonValue"] = {
            "title": "JSON value",
            "description": "Text, a number, true/false, null, a list or a mapping.",
        }
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "sessionbot persona",
        "description": (
            "A persona file for sessionbot. The file name without its extension is the "
            "persona id (lowercase letters, digits, '-' and '_')."
        ),
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        "$defs": definitions,
    }
