"""Importing a card into the persona directory, and exporting a persona as a card file.

Import writes `<id>.yaml` (and the card's image beside it) only once the persona it maps to
loads cleanly; a failed import leaves the directory as it was.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from situations.cards.errors import CardError
from situations.cards.mapping import card_data, persona_fields
from situations.cards.parse import read_card
from situations.cards.png import plain_png, with_text_chunks
from situations.errors import PersonaLoadError
from situations.loader import parse_profile
from situations.models import AgentProfile

__all__ = [
    "CardExists",
    "Imported",
    "avatar_image",
    "export_card",
    "import_card",
    "persona_yaml",
    "slug",
]

_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class CardExists(CardError):
    """The persona file (or its image) is already there and overwriting was not asked for."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"{path} already exists")


@dataclass(frozen=True)
class Imported:
    """What an import wrote: the persona file, its image (if any) and the loaded persona."""

    path: Path
    image: Path | None
    profile: AgentProfile


def slug(name: str) -> str:
    """A persona id from a card name: lowercase ASCII letters, digits and dashes."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:64].strip("-")
    return text or "persona"


def import_card(
    data: bytes, directory: Path, *, persona_id: str | None = None, force: bool = False
) -> Imported:
    """Write the persona for the card in `data` into `directory`; raise CardError (CardExists
    for a file in the way) and write nothing if anything is wrong."""
    card = read_card(data)
    ident = persona_id or slug(card.name)
    if not _ID.fullmatch(ident):
        raise CardError(
            f"{ident!r} is not a valid persona id (lowercase letters, digits, '-' and '_')"
        )
    if not directory.is_dir():
        raise CardError(f"{directory} is not a directory")
    target = directory / f"{ident}.yaml"
    image = directory / f"{ident}{card.image_suffix}" if card.image is not None else None
    fields = persona_fields(card, image.name if image is not None else None)
    if "avatar" not in fields:  # the persona links its picture (avatar_url) instead
        image = None
    for path in (target, target.with_suffix(".yml"), image):
        if path is not None and path.exists() and not force:
            raise CardExists(path)
    try:
        encoded = persona_yaml(fields).encode("utf-8")
    except UnicodeEncodeError:
        raise CardError("the card holds text that is not valid Unicode") from None
    previous = image.read_bytes() if image is not None and image.exists() else None
    if image is not None and card.image is not None:
        _write(image, with_text_chunks(card.image, []) if image.suffix == ".png" else card.image)
    try:
        profile = parse_profile(encoded, target)
    except PersonaLoadError as exc:
        _restore(image, previous)
        first = exc.errors[0]
        field = f"{first.field}: " if first.field else ""
        raise CardError(f"the persona it makes is not valid: {field}{first.message}") from None
    _write(target, encoded)
    return Imported(target, image, profile)


def _write(path: Path, data: bytes) -> None:
    """Replace `path` at once (a hidden temporary file, then a rename)."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _restore(path: Path | None, previous: bytes | None) -> None:
    if path is None:
        return
    if previous is None:
        path.unlink(missing_ok=True)
    else:
        _write(path, previous)


class _Dumper(yaml.SafeDumper):
    """Writes multi-line text as `|` blocks, the way persona files are written by hand."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def persona_yaml(fields: dict[str, Any]) -> str:
    """The text of a persona file holding `fields`."""
    body = yaml.dump(fields, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return "# Imported from a character card by `sessionbot personas import`.\n" + body


def avatar_image(profile: AgentProfile) -> bytes | None:
    """The persona's avatar image (its `avatar` file beside the persona file), if it has one."""
    name = getattr(profile, "avatar", None)
    if not isinstance(name, str) or not name:
        return None
    path = profile.source.parent / name
    try:
        return path.read_bytes()
    except OSError:
        return None


def export_card(profile: AgentProfile, form: Literal["png", "json"] = "png") -> bytes:
    """The persona as a V3 card: JSON, or a PNG with a `ccv3` and a V2 `chara` chunk."""
    data = card_data(profile)
    v3 = {"spec": "chara_card_v3", "spec_version": "3.0", "data": data}
    if form == "json":
        return (json.dumps(v3, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    v2_only = ("nickname", "creator_notes_multilingual", "source", "group_only_greetings",
               "creation_date", "modification_date", "assets")  # fmt: skip
    v2 = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {key: value for key, value in data.items() if key not in v2_only},
    }
    image = avatar_image(profile)
    if image is None or not image.startswith(b"\x89PNG\r\n\x1a\n"):
        image = plain_png()
    chunks = [("ccv3", _b64(v3)), ("chara", _b64(v2))]
    try:
        return with_text_chunks(image, chunks)
    except CardError:  # the avatar is not a whole PNG
        return with_text_chunks(plain_png(), chunks)


def _b64(document: dict[str, Any]) -> bytes:
    return base64.b64encode(json.dumps(document, ensure_ascii=False).encode("utf-8"))
