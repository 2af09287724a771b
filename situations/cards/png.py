"""PNG chunks read and written with the standard library: the card's text, never the pixels.

A character card travels as a base64 text in a `tEXt` chunk (keyword `ccv3` or `chara`). The
reader walks the chunk list with every length checked against caps, verifies each chunk's CRC,
and never decodes the image.
"""

from __future__ import annotations

import struct
import zlib

from situations.cards.errors import CardError

__all__ = [
    "MAX_PNG_BYTES",
    "MAX_TEXT_CHUNK",
    "PNG_SIGNATURE",
    "plain_png",
    "read_text_chunks",
    "with_text_chunks",
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PNG_BYTES = 32 * 1024 * 1024
"""The largest card image read."""
MAX_TEXT_CHUNK = 8 * 1024 * 1024
"""The largest `tEXt` chunk read (a card is text; a few hundred KB at most in practice)."""
MAX_CHUNKS = 100_000
_HEADER = struct.Struct(">I4s")


def _chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """Each chunk as (type, start of its data, length), up to and including IEND."""
    if len(data) > MAX_PNG_BYTES:
        raise CardError(f"the PNG is larger than {MAX_PNG_BYTES // (1024 * 1024)} MiB")
    if not data.startswith(PNG_SIGNATURE):
        raise CardError("not a PNG file (its signature is missing)")
    found: list[tuple[bytes, int, int]] = []
    view = memoryview(data)
    offset = len(PNG_SIGNATURE)
    while True:
        if offset + _HEADER.size > len(data):
            raise CardError("the PNG is truncated (it ends before its IEND chunk)")
        length, kind = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        end = start + length + 4
        if length > 0x7FFFFFFF or end > len(data):
            raise CardError(f"the PNG is truncated (its {_name(kind)} chunk is cut off)")
        (crc,) = struct.unpack_from(">I", data, start + length)
        if zlib.crc32(view[offset + 4 : start + length]) != crc:  # a view: no copy
            raise CardError(f"the PNG is damaged (its {_name(kind)} chunk fails its checksum)")
        if not found and kind != b"IHDR":
            raise CardError("the PNG is damaged (it does not start with an IHDR chunk)")
        found.append((kind, start, length))
        if kind == b"IEND":
            return found
        if len(found) >= MAX_CHUNKS:
            raise CardError(f"the PNG has more than {MAX_CHUNKS} chunks")
        offset = end


def _name(kind: bytes) -> str:
    return repr(kind.decode("latin-1"))


def read_text_chunks(data: bytes, keywords: tuple[str, ...]) -> dict[str, bytes]:
    """The text of the `tEXt` chunks with these keywords (the first of each), checked PNG.

    Raises CardError for anything that is not a whole, undamaged PNG, and for a wanted text
    chunk over MAX_TEXT_CHUNK bytes.
    """
    wanted = {keyword.encode("latin-1") for keyword in keywords}
    texts: dict[str, bytes] = {}
    for kind, start, length in _chunks(data):
        if kind != b"tEXt":
            continue
        keyword, separator, _ = data[start : start + min(length, 80)].partition(b"\0")
        if not separator or keyword not in wanted:
            continue
        name = keyword.decode("latin-1")
        if length > MAX_TEXT_CHUNK:
            limit = MAX_TEXT_CHUNK // (1024 * 1024)
            raise CardError(f"the PNG's {name!r} chunk is larger than {limit} MiB")
        texts.setdefault(name, data[start + len(keyword) + 1 : start + length])
    return texts


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def with_text_chunks(data: bytes, texts: list[tuple[str, bytes]]) -> bytes:
    """The PNG `data` with these `tEXt` chunks just before IEND, instead of any card chunks
    (`ccv3`, `chara`) it had."""
    replaced = {b"ccv3", b"chara"} | {keyword.encode("latin-1") for keyword, _ in texts}
    parts = [PNG_SIGNATURE]
    for kind, start, length in _chunks(data):
        body = data[start : start + length]
        if kind == b"tEXt" and body.partition(b"\0")[0] in replaced:
            continue
        if kind == b"IEND":
            parts.extend(_chunk(b"tEXt", k.encode("latin-1") + b"\0" + v) for k, v in texts)
        parts.append(_chunk(kind, body))
    return b"".join(parts)


def plain_png(
    width: int = 256, height: int = 256, rgb: tuple[int, int, int] = (88, 101, 242)
) -> bytes:
    """A PNG of one colour, for a card whose persona has no avatar image."""
    row = b"\0" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(row * height, 9)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")
