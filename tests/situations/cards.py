"""Character cards built by the tests themselves: V1, V2 and V3 JSON, PNGs and a .charx."""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
import zlib
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ICON = "assets/icon/images/main.png"


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(texts: list[tuple[str, bytes]] = (), colour: bytes = b"\x10\x20\x30") -> bytes:  # type: ignore[assignment]
    """A 2x2 PNG with these tEXt chunks before IDAT, as card editors write them."""
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    pixels = zlib.compress((b"\0" + colour * 2) * 2)
    text = b"".join(chunk(b"tEXt", k.encode() + b"\0" + v) for k, v in texts)
    return (
        PNG_SIGNATURE + chunk(b"IHDR", header) + text + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def b64(document: Any) -> bytes:
    return base64.b64encode(json.dumps(document).encode())


def text_chunks(data: bytes) -> dict[str, bytes]:
    """Every tEXt chunk of a PNG, read independently of the code under test."""
    found: dict[str, bytes] = {}
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"tEXt":
            keyword, _, value = body.partition(b"\0")
            found[keyword.decode()] = value
        offset += 12 + length
    return found


V1 = {
    "name": "Old Tom",
    "description": "{{char}} is a lighthouse keeper who talks to {{user}}.",
    "personality": "gruff, kind",
    "scenario": "A stormy night at the lighthouse.",
    "first_mes": "Evening, {{user}}. Mind the stairs.",
    "mes_example": "<START>\n{{user}}: Is the lamp lit?\n{{char}}: Always, <USER>.\n",
}

BOOK = {
    "name": "Coast lore",
    "scan_depth": 2,
    "token_budget": 300,
    "recursive_scanning": False,
    "extensions": {"x": 1},
    "entries": [
        {
            "keys": ["kraken"],
            "content": "The kraken sleeps under the north reef.",
            "extensions": {},
            "enabled": True,
            "insertion_order": 10,
            "id": 1,
            "comment": "sea monster",
            "priority": 5,
        },
        {
            "keys": ["mermaid"],
            "content": "Mermaids sing at dawn.",
            "extensions": {},
            "enabled": True,
            "insertion_order": 20,
            "id": 2,
            "position": "before_char",
        },
    ],
}


def v2_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        **V1,
        "name": "Mira",
        "description": "{{char}} is a ranger of the northern woods.",
        "first_mes": "Well met, {{user}}.",
        "creator_notes": "Made for tests.",
        "system_prompt": "Write as {{char}}; never speak for {{user}}.",
        "post_history_instructions": "Stay in character as {{char}}, talking to {{user}}.",
        "alternate_greetings": ["Oh, {{user}}, it's you.", "<USER>! Over here!"],
        "tags": ["fantasy", "ranger"],
        "creator": "tester",
        "character_version": "1.2",
        "extensions": {"talkativeness": "0.5", "depth_prompt": {"depth": 4, "prompt": "hi"}},
        "character_book": BOOK,
    }
    data.update(changes)
    return data


def v2(**changes: Any) -> dict[str, Any]:
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": v2_data(**changes)}


def v3(**changes: Any) -> dict[str, Any]:
    data = v2_data(
        nickname="Mimi",
        source=["https://example.invalid/mira"],
        creation_date=1700000000,
        modification_date=1700000100,
        group_only_greetings=["Hello all."],
        assets=[{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
    )
    data.update(changes)
    return {"spec": "chara_card_v3", "spec_version": "3.0", "data": data}


def charx(card: dict[str, Any], image: bytes) -> bytes:
    """A .charx: card.json plus the main icon under assets/."""
    card = json.loads(json.dumps(card))
    card["data"]["assets"] = [
        {"type": "icon", "uri": f"embeded://{ICON}", "name": "main", "ext": "png"}
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("card.json", json.dumps(card))
        archive.writestr(ICON, image)
    return buffer.getvalue()
