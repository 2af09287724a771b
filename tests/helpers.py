"""Small helpers shared by the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def write_persona(directory: Path, persona_id: str, **fields: Any) -> Path:
    """Write `fields` as the persona file `<directory>/<persona_id>.yaml`."""
    path = directory / f"{persona_id}.yaml"
    path.write_text(yaml.safe_dump(fields, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
