"""The streaming editor against a recording sink, with short real intervals."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from bot.discord_app.split import MESSAGE_LIMIT
from bot.discord_app.streaming import StreamingReply


class Busy(Exception):
    """A failure that passes: the sink asks for 0.05 s."""


def busy_passes(error: BaseException) -> float | None:
    return 0.05 if isinstance(error, Busy) else None


@dataclass
class RecordingSink:
    calls: list[tuple[str, int, str]] = field(default_factory=list)
    contents: dict[int, str] = field(default_factory=dict)
    deleted: list[int] = field(default_factory=list)
    replies: list[int] = field(default_factory=list)
    delay: float = 0.0
    fail: bool = False
    busy_edits: int = 0  # the next edits that fail with Busy

    async def send(self, content: str, *, reply: bool) -> int:
        await asyncio.sleep(self.delay)
        if self.fail:
            raise OSError("Discord is down")
        number = len(self.contents)
        self.contents[number] = content
        self.calls.append(("send", number, content))
        if reply:
            self.replies.append(number)
        return number

    async def edit(self, message: int, content: str) -> None:
        await asyncio.sleep(self.delay)
        if self.busy_edits:
            self.busy_edits -= 1
            self.calls.append(("busy", message, content))
            raise Busy()
        self.contents[message] = content
        self.calls.append(("edit", message, content))

    async def delete(self, message: int) -> None:
        self.deleted.append(message)
        self.calls.append(("delete", message, ""))


async def test_a_reply_complete_within_the_first_delay_is_sent_once() -> None:
    sink = RecordingSink()
    reply = StreamingReply(sink, first_delay=0.05)
    for word in ["all", "of", "it", "at", "once"]:
        await reply.add(word + " ")
    messages = await reply.finish()
    assert sink.calls == [("send", 0, "all of it at once ")]
    assert messages == [0]
    assert sink.replies == [0]


async def test_the_first_text_appears_after_the_first_delay_even_if_the_model_pauses() -> None:
    sink = RecordingSink()
    reply = StreamingReply(sink, first_delay=0.02, interval=0.05)
    await reply.add("Hel")
    await asyncio.sleep(0.1)  # the model stalls; the text is shown anyway
    assert sink.calls == [("send", 0, "Hel")]
    await reply.add("lo")
    await asyncio.sleep(0.1)
    assert sink.contents[0] == "Hello"
    await reply.finish()
    assert [call[0] for call in sink.calls] == ["send", "edit"]


async def test_whitespace_alone_sends_nothing() -> None:
    sink = RecordingSink()
    reply = StreamingReply(sink, first_delay=0.0)
    await reply.add("\n ")
    await asyncio.sleep(0.02)
    assert sink.calls == []
    assert not reply.started
    await reply.finish()


async def test_updates_happen_at_most_once_per_interval() -> None:
    sink = RecordingSink()
    reply = StreamingReply(sink, first_delay=0.0, interval=0.1)
    for step in range(50):
        await reply.add(f"w{step} ")
        await asyncio.sleep(0.01)  # 50 chunks over about half a second
    updates_while_streaming = len(sink.calls)
    assert 3 <= updates_while_streaming <= 7
    await reply.finish()
    assert sink.contents[0] == " ".join(f"w{step}" for step in range(50)) + " "


async def test_streaming_never_waits_for_a_slow_sink() -> None:
    sink = RecordingSink(delay=0.2)
    reply = StreamingReply(sink, first_delay=0.0, interval=0.0)
    loop = asyncio.get_running_loop()
    began = loop.time()
    for step in range(20):
        await reply.add(f"w{step} ")
        await asyncio.sleep(0)
    assert loop.time() - began < 0.1
    await reply.finish()
    assert sink.contents[0].split() == [f"w{step}" for step in range(20)]


async def test_finish_with_the_stored_text_replaces_the_streamed_one() -> None:
    sink = RecordingSink()
    reply = StreamingReply(sink, first_delay=0.0)
    await reply.add("draft")
    await asyncio.sleep(0.02)
    await reply.finish("final text")
    assert sink.contents == {0: "final text"}


async def test_long_replies_continue_in_new_messages() -> None:
    sink = RecordingSink()
    reply = StreamingReply(sink, first_delay=0.0, interval=0.01)
    words = [f"word{i:04d}" for i in range(700)]
    for word in words:
        await reply.add(word + " ")
        await asyncio.sleep(0)
    messages = await reply.finish()
    assert len(messages) == 4
    assert sink.replies == [0]  # only the first part replies to the user's message
    assert all(len(content) <= MESSAGE_LIMIT for content in sink.contents.values())
    shown = " ".join(sink.contents[number] for number in messages)
    assert shown.split() == words


async def test_a_failed_update_surfaces_and_discard_cleans_up() -> None:
    sink = RecordingSink()
    reply = StreamingReply(sink, first_delay=0.0, interval=0.0)
    await reply.add("x " * 1500)
    await asyncio.sleep(0.02)
    assert len(sink.contents) == 2
    sink.fail = True
    await reply.add("y " * 500)
    await asyncio.sleep(0.02)
    with pytest.raises(OSError, match="Discord is down"):
        await reply.add("more")
    await reply.discard()
    assert sink.deleted == [0, 1]
    assert not reply.started


async def test_close_abandons_an_update_in_flight() -> None:
    sink = RecordingSink(delay=10)
    reply = StreamingReply(sink, first_delay=0.0)
    await reply.add("text")
    await asyncio.sleep(0.01)
    await asyncio.wait_for(reply.close(), timeout=1)
    assert sink.calls == []


async def test_a_pushed_back_update_is_skipped_and_the_interval_grows() -> None:
    sink = RecordingSink(busy_edits=2)
    reply = StreamingReply(sink, first_delay=0.0, interval=0.02, pushback=busy_passes)
    await reply.add("one ")
    await asyncio.sleep(0.03)
    await reply.add("two ")
    await asyncio.sleep(0.03)
    assert [call[0] for call in sink.calls] == ["send", "busy"]
    assert reply.interval == 0.04  # doubled; no edit was queued meanwhile
    await reply.add("three")
    await reply.finish()
    assert sink.contents[0] == "one two three"
    assert [call[0] for call in sink.calls].count("edit") == 1


async def test_a_slow_update_lengthens_the_interval_and_quick_ones_shorten_it() -> None:
    sink = RecordingSink(delay=0.05)
    reply = StreamingReply(sink, first_delay=0.0, interval=0.02, pushback=busy_passes)
    await reply.add("slow ")
    await asyncio.sleep(0.1)
    assert reply.interval == 0.04
    sink.delay = 0.0
    for step in range(8):
        await reply.add(f"w{step} ")
        await asyncio.sleep(0.06)
    assert reply.interval < 0.04
    await reply.finish()


async def test_finish_shows_the_final_text_again_after_passing_failures() -> None:
    sink = RecordingSink()
    reply = StreamingReply(sink, first_delay=0.0, pushback=busy_passes, retries=(0.01, 0.01))
    await reply.add("draft")
    await asyncio.sleep(0.02)
    sink.busy_edits = 2
    await reply.finish("final")
    assert sink.contents == {0: "final"}
    assert [call[0] for call in sink.calls] == ["send", "busy", "busy", "edit"]


async def test_finish_gives_up_after_its_retries() -> None:
    sink = RecordingSink()
    reply = StreamingReply(sink, first_delay=0.0, pushback=busy_passes, retries=(0.01,))
    await reply.add("draft")
    await asyncio.sleep(0.02)
    sink.busy_edits = 5
    with pytest.raises(Busy):
        await reply.finish("final")
    assert [call[0] for call in sink.calls] == ["send", "busy", "busy"]
