"""The `avatar` field: an image file beside the persona YAML, found and checked at load."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from situations.avatar import AVATAR_MAX_BYTES, image_kind
from situations.loader import load_profile
from tests.situations.conftest import load_errors, write

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_an_avatar_file_beside_the_yaml_is_loaded_with_its_path(personas: Path) -> None:
    (personas / "sara.png").write_bytes(PNG)
    path = write(personas, "sara.yaml", "name: Sara\nsituation: x\navatar: sara.png\n")
    profile = load_profile(path)
    assert profile.avatar == "sara.png"
    assert profile.avatar_file() == personas / "sara.png"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (PNG, "png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 12, "jpeg"),
        (b"GIF89a" + b"\x00" * 10, "gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"),
        (b"<svg xmlns=", None),
    ],
)
def test_image_kinds_are_told_by_their_first_bytes(head: bytes, kind: str | None) -> None:
    assert image_kind(head) == kind


def test_a_missing_avatar_file_names_the_line(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: Sara\nsituation: x\navatar: sara.png\n")
    assert load_errors(path) == [
        "personas/sara.yaml:3: avatar: no file sara.png beside the persona file; "
        "put the image next to it"
    ]


def test_an_avatar_that_is_not_an_image_is_refused(personas: Path) -> None:
    (personas / "sara.png").write_text("not a picture")
    path = write(personas, "sara.yaml", "name: Sara\nsituation: x\navatar: sara.png\n")
    assert load_errors(path) == [
        "personas/sara.yaml:3: avatar: sara.png is not a PNG, JPEG, WebP or GIF image"
    ]


def test_an_avatar_over_8_mb_is_refused(personas: Path) -> None:
    with (personas / "big.png").open("wb") as file:
        file.write(PNG)
        file.truncate(AVATAR_MAX_BYTES + 1)
    path = write(personas, "sara.yaml", "name: Sara\nsituation: x\navatar: big.png\n")
    assert load_errors(path) == [
        "personas/sara.yaml:3: avatar: big.png is 8.0 MB; an avatar may be at most 8 MB"
    ]


def test_an_avatar_in_a_folder_or_of_another_type_is_refused(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: Sara\nsituation: x\navatar: ../sara.bmp\n")
    assert load_errors(path) == [
        "personas/sara.yaml:3: avatar: must be the name of an image file beside the persona "
        "file ending in .png, .jpg, .jpeg, .webp or .gif (no folders), got '../sara.bmp'"
    ]


def test_avatar_and_avatar_url_together_are_refused(personas: Path) -> None:
    (personas / "sara.png").write_bytes(PNG)
    text = "name: Sara\nsituation: x\navatar_url: https://x.org/s.png\navatar: sara.png\n"
    path = write(personas, "sara.yaml", text)
    assert load_errors(path) == [
        "personas/sara.yaml:4: avatar: set avatar (a file) or avatar_url (a link), not both"
    ]


def test_an_avatar_linking_outside_the_persona_directory_is_refused(
    personas: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(PNG)
    os.symlink(outside, personas / "sara.png")
    path = write(personas, "sara.yaml", "name: Sara\nsituation: x\navatar: sara.png\n")
    [error] = load_errors(path)
    assert error.startswith("personas/sara.yaml:3: avatar: sara.png links to ")
    assert error.endswith("outside the persona directory; copy it in")
