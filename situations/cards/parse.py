"""Read a character card from bytes: V1, V2 or V3 JSON, a PNG carrying one, or a `.charx` zip.

Every failure is a CardError with one sentence; nothing here decodes an image or trusts a size
written in the file.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from situations.cards.errors import CardError
from situations.cards.png import PNG_SIGNATURE, read_text_chunks

__all__ = ["MAX_CARD_BYTES", "MAX_JSON_BYTES", "Card", "read_card"]

MAX_CARD_BYTES = 32 * 1024 * 1024
"""The largest card file read (JSON, PNG or .charx)."""
MAX_JSON_BYTES = 8 * 1024 * 1024
"""The largest card JSON, wherever it comes from."""
MAX_DEPTH = 32
"""The deepest nesting of lists and objects in a card (real cards use five or six levels)."""
MAX_IMAGE_BYTES = 16 * 1024 * 1024
"""The largest avatar image taken from a .charx."""
_ZIP_SIGNATURE = b"PK\x03\x04"
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,  # a compression method zipfile lacks
    RuntimeError,  # an encrypted member
    zlib.error,
)
_EMBEDDED = ("embeded://", "embedded://")  # the V3 spec's spelling, and the usual one
_SPECS = {"chara_card_v2": 2, "chara_card_v3": 3}
TEXT_FIELDS = (
    "name",
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "system_prompt",
    "post_history_instructions",
    "nickname",
)
LIST_FIELDS = ("alternate_greetings", "tags")


@dataclass(frozen=True)
class Card:
    """A card's fields (a V1 card's flat object, or a V2/V3 card's `data`), and its image."""

    fields: dict[str, Any]
    version: int
    image: bytes | None = None
    image_suffix: str = ".png"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.fields["name"])


def read_card(data: bytes) -> Card:
    """The card in `data`, whatever its container; raise CardError if there is none."""
    if len(data) > MAX_CARD_BYTES:
        raise CardError(f"the file is larger than {MAX_CARD_BYTES // (1024 * 1024)} MiB")
    if data.startswith(PNG_SIGNATURE):
        return _from_png(data)
    if data.startswith(_ZIP_SIGNATURE):
        return _from_charx(data)
    return card_from_json(data)


def _from_png(data: bytes) -> Card:
    texts = read_text_chunks(data, ("ccv3", "chara"))
    keyword = "ccv3" if "ccv3" in texts else "chara" if "chara" in texts else None
    if keyword is None:
        raise CardError("the PNG carries no card (no 'ccv3' or 'chara' text chunk)")
    encoded = b"".join(texts[keyword].split())
    try:
        decoded = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise CardError(f"the PNG's {keyword!r} chunk is not valid base64") from None
    card = card_from_json(decoded, where=f"the PNG's {keyword!r} chunk")
    return Card(card.fields, card.version, data, ".png", card.extra)


def _from_charx(data: bytes) -> Card:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            raw = _member(archive, "card.json", MAX_JSON_BYTES)
            card = card_from_json(raw, where="card.json")
            image, suffix = _charx_icon(archive, card.fields.get("assets"))
    except _ZIP_ERRORS as exc:
        reason = " ".join(str(exc).split())[:100]
        raise CardError(f"the .charx is not a readable zip file ({reason})") from None
    return Card(card.fields, card.version, image, suffix, card.extra)


def _member(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise CardError(f"the .charx has no {name}") from None
    if info.file_size > limit:
        raise CardError(f"{name} in the .charx is larger than {limit // (1024 * 1024)} MiB")
    with archive.open(info) as member:
        content = member.read(limit + 1)
    if len(content) > limit:
        raise CardError(f"{name} in the .charx is larger than {limit // (1024 * 1024)} MiB")
    return content


def _charx_icon(archive: zipfile.ZipFile, assets: object) -> tuple[bytes | None, str]:
    """The main icon of a .charx (the `icon` asset named `main`, else the first icon)."""
    if not isinstance(assets, list):
        return None, ".png"
    icons = [
        asset
        for asset in assets
        if isinstance(asset, dict)
        and asset.get("type") == "icon"
        and isinstance(asset.get("uri"), str)
        and asset["uri"].startswith(_EMBEDDED)
    ]
    icons.sort(key=lambda asset: asset.get("name") != "main")
    if not icons:
        return None, ".png"
    path = icons[0]["uri"].partition("://")[2]
    ext = str(icons[0].get("ext") or path.rpartition(".")[2] or "png").lower()
    suffix = f".{ext}" if ext.isalnum() and len(ext) <= 5 else ".png"
    return _member(archive, path, MAX_IMAGE_BYTES), suffix


def card_from_json(raw: bytes, where: str = "the file") -> Card:
    """A card from its JSON bytes (V1 flat, or V2/V3 with `spec` and `data`)."""
    if len(raw) > MAX_JSON_BYTES:
        raise CardError(f"{where} is larger than {MAX_JSON_BYTES // (1024 * 1024)} MiB of JSON")
    try:
        document = json.loads(raw.decode("utf-8-sig"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise CardError(f"{where} is not UTF-8 text") from None
    except RecursionError:
        raise CardError(f"{where} nests its JSON too deeply") from None
    except ValueError as exc:
        raise CardError(f"{where} is not valid JSON ({_json_reason(exc)})") from None
    if not isinstance(document, dict):
        raise CardError(f"{where} is not a character card (expected a JSON object)")
    if _too_deep(document, MAX_DEPTH):
        raise CardError(f"{where} nests its JSON more than {MAX_DEPTH} levels deep")
    spec = document.get("spec")
    if spec is None and "data" not in document:
        return Card(_checked(document, where), 1)
    if spec not in _SPECS:
        raise CardError(
            f"{where} has an unknown card spec {_short(spec)} "
            "(expected chara_card_v2 or chara_card_v3)"
        )
    fields = document.get("data")
    if not isinstance(fields, dict):
        raise CardError(f"{where} has no 'data' object")
    extra = {k: v for k, v in document.items() if k not in ("spec", "spec_version", "data")}
    return Card(_checked(fields, where), _SPECS[spec], extra=extra)


def _too_deep(value: object, limit: int) -> bool:
    """Whether lists and objects nest more than `limit` levels (without recursion)."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc).split("\n")[0][:100]


def _short(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _checked(fields: dict[str, Any], where: str) -> dict[str, Any]:
    """The fields, once the ones sessionbot reads have the right types."""
    name = fields.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CardError(f"{where} is a card without a name")
    for key in TEXT_FIELDS:
        value = fields.get(key)
        if value is not None and not isinstance(value, str):
            raise CardError(f"{where}: {key} must be text, got {_short(value)}")
    for key in LIST_FIELDS:
        value = fields.get(key)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(item, str) for item in value)
        ):
            raise CardError(f"{where}: {key} must be a list of text")
    book = fields.get("character_book")
    if book is not None and (
        not isinstance(book, dict)
        or not isinstance(book.get("entries", []), list)
        or not all(isinstance(entry, dict) for entry in book.get("entries", []))
    ):
        raise CardError(f"{where}: character_book must be an object with a list of entries")
    return fields
