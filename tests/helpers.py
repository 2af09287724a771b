"""Small helpers shared by the tests."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]

# A session in the Julep session shape, as the documented example shows it.
JULEP_SESSION_KEYS = (
    "id",
    "user_id",
    "agent_id",
    "situation",
    "summary",
    "created_at",
    "updated_at",
    "metadata",
    "render_templates",
)
# Every key of a session as the API and the CLI print it, in order: the Julep shape, then ours.
SESSION_KEYS = (*JULEP_SESSION_KEYS, "tags", "status")
# Julep timestamps: UTC, ISO 8601, a `Z` suffix, microseconds only when non-zero.
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def write_persona(directory: Path, persona_id: str, **fields: Any) -> Path:
    """Write `fields` as the persona file `<directory>/<persona_id>.yaml`."""
    path = directory / f"{persona_id}.yaml"
    path.write_text(yaml.safe_dump(fields, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def command_env(home: Path, personas: Path, **extra: str) -> dict[str, str]:
    """The whole environment of a `sessionbot` subprocess: nothing from the developer's shell.

    A database under `home`, the personas in `personas`, a fake model name and no LLM retries,
    so a failure shows at once; `extra` adds or overrides variables.
    """
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "SESSIONBOT_MODEL": "fake-model",
        "SESSIONBOT_DATABASE": str(home / "sessionbot.db"),
        "SESSIONBOT_PERSONAS": str(personas),
        "SESSIONBOT_LLM_RETRIES": "0",
        **extra,
    }
