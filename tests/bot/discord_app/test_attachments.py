"""Attachments folded into the text the model reads."""

from __future__ import annotations

from dataclasses import dataclass

from bot.discord_app.attachments import TEXT_CAP, is_text, message_text


@dataclass
class FakeAttachment:
    filename: str
    data: bytes
    content_type: str | None = None
    fail: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    async def read(self, *, use_cached: bool = False) -> bytes:
        if self.fail:
            raise OSError("connection reset")
        return self.data


def test_text_types_and_code_extensions_are_text() -> None:
    assert is_text("notes", "text/plain; charset=utf-8")
    assert is_text("main.PY", None)
    assert is_text("data.json", "application/json")
    assert not is_text("photo.png", "image/png")
    assert not is_text("archive.zip", None)


async def test_content_without_attachments_is_unchanged() -> None:
    assert await message_text("hello", []) == "hello"


async def test_a_text_file_is_included_with_its_name() -> None:
    text = await message_text("see this", [FakeAttachment("a.py", b"print('hi')\n")])
    assert text == "see this\n\n[attached file a.py]\nprint('hi')\n\n[end of a.py]"


async def test_other_files_are_noted_by_name() -> None:
    photo = FakeAttachment("cat.png", b"\x89PNG" + b"x" * 2048, "image/png")
    text = await message_text("", [photo])
    assert text == "[attached file cat.png (image/png, 2 KB), not included]"


async def test_long_text_is_cut_at_the_cap_with_a_note() -> None:
    big = FakeAttachment("log.txt", b"z" * (TEXT_CAP + 500), "text/plain")
    text = await message_text("look", [big])
    assert text.count("z") == TEXT_CAP
    assert "[log.txt was cut: only its first 32,768 characters are included]" in text


async def test_the_cap_is_shared_by_all_files_of_a_message() -> None:
    files = [FakeAttachment(f"{n}.txt", b"q" * 20000) for n in range(3)]
    text = await message_text("", files)
    assert text.count("q") == TEXT_CAP
    assert "2.txt (20 KB), not included: the text limit was reached" in text


async def test_binary_data_and_failed_downloads_are_noted() -> None:
    files = [
        FakeAttachment("odd.txt", b"\x00\x01\x02"),
        FakeAttachment("gone.md", b"# hi", fail=True),
    ]
    text = await message_text("x", files)
    assert "odd.txt (3 bytes), not included: could not be read as text" in text
    assert "gone.md (4 bytes), not included: could not be read as text" in text
