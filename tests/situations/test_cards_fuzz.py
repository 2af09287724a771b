"""Fuzzing the PNG chunk reader and the card parser: whatever the bytes, the only failure is a
one-line CardError, and memory stays bounded whatever sizes the file claims."""

from __future__ import annotations

import json
import struct
import tempfile
import tracemalloc
import zlib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from situations.cards import CardError, import_card, read_card
from situations.cards.png import read_text_chunks
from tests.situations.cards import PNG_SIGNATURE, b64, charx, chunk, png, v2, v3

FUZZ = settings(max_examples=300, deadline=None)
VALID_PNG = png([("chara", b64(v2())), ("ccv3", b64(v3()))])
VALID_CHARX = charx(v3(), png())


def read_or_refuse(data: bytes) -> None:
    try:
        card = read_card(data)
    except CardError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert card.name.strip()


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_after_a_png_signature(tail: bytes) -> None:
    read_or_refuse(PNG_SIGNATURE + tail)


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    read_or_refuse(data)


@FUZZ
@given(st.data())
def test_a_card_png_with_bytes_changed_cut_or_inserted(data: st.DataObject) -> None:
    card = bytearray(VALID_PNG)
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(card) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            card[where] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del card[where:]
            if not card:
                break
        else:
            card[where:where] = data.draw(st.binary(min_size=1, max_size=8))
    read_or_refuse(bytes(card))


@FUZZ
@given(st.data())
def test_a_charx_with_bytes_changed(data: st.DataObject) -> None:
    card = bytearray(VALID_CHARX)
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.integers(0, len(card) - 1))
        card[where] ^= data.draw(st.integers(1, 255))
    read_or_refuse(bytes(card))


@FUZZ
@given(st.integers(0, 2**32 - 1), st.sampled_from([b"tEXt", b"IDAT", b"zTXt", b"IEND"]))
def test_any_claimed_chunk_length(length: int, kind: bytes) -> None:
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    data = PNG_SIGNATURE + chunk(b"IHDR", header) + struct.pack(">I", length) + kind + b"abc"
    read_or_refuse(data)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
CARD_KEYS = st.sampled_from(
    ["name", "description", "personality", "scenario", "first_mes", "mes_example",
     "system_prompt", "post_history_instructions", "alternate_greetings", "tags", "nickname",
     "character_book", "extensions", "creator", "assets"]
)  # fmt: skip


@FUZZ
@given(st.dictionaries(CARD_KEYS, JSON, max_size=8), st.sampled_from([None, "v2", "v3"]))
def test_any_json_card_imports_or_is_refused_in_one_line(
    fields: dict[str, object], spec: str | None
) -> None:
    fields.setdefault("name", "Fuzz")
    document: object = fields
    if spec is not None:
        document = {"spec": f"chara_card_{spec}", "data": fields}
    with tempfile.TemporaryDirectory() as directory:
        try:
            result = import_card(json.dumps(document).encode(), Path(directory))
        except CardError as exc:
            assert str(exc) and "\n" not in str(exc)
            assert list(Path(directory).iterdir()) == []
        else:
            assert result.path.exists()


@FUZZ
@given(st.integers(1, 2000), st.sampled_from(["extensions", "character_book", "tags"]))
def test_any_nesting_depth_imports_or_is_refused(depth: int, field: str) -> None:
    nested = "[" * depth + "]" * depth
    raw = f'{{"name": "N", "description": "x", "{field}": {nested}}}'.encode()
    with tempfile.TemporaryDirectory() as directory:
        try:
            import_card(raw, Path(directory))
        except CardError as exc:
            assert str(exc) and "\n" not in str(exc)


def test_memory_stays_bounded_when_a_chunk_claims_two_gigabytes() -> None:
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    claims = PNG_SIGNATURE + chunk(b"IHDR", header) + struct.pack(">I", 2**31 - 1) + b"tEXt"
    data = claims + b"chara\0" + b"A" * 1000
    tracemalloc.start()
    try:
        read_or_refuse(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024


def test_memory_stays_bounded_for_a_zip_bomb() -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("card.json", b" " * (64 * 1024 * 1024))
    tracemalloc.start()
    try:
        read_or_refuse(buffer.getvalue())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024


def test_a_large_text_chunk_is_refused_before_it_is_decoded() -> None:
    data = png([("chara", b"A" * (9 * 1024 * 1024))])
    tracemalloc.start()
    try:
        read_or_refuse(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024


def test_text_chunks_are_read_with_their_crc_checked() -> None:
    body = b"chara\0" + b64(v2())
    good = png([("chara", b64(v2()))])
    assert read_text_chunks(good, ("chara",)) == {"chara": body[6:]}
    bad_crc = struct.pack(">I", zlib.crc32(b"tEXt" + body) ^ 1)
    damaged = good.replace(struct.pack(">I", zlib.crc32(b"tEXt" + body)), bad_crc)
    read_or_refuse(damaged)
