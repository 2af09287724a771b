"""The throttled streaming editor, against a recording sink and a hand-moved clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.discord_app.split import MESSAGE_LIMIT
from bot.discord_app.streaming import StreamingReply


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class RecordingSink:
    calls: list[tuple[str, int, str]] = field(default_factory=list)
    contents: dict[int, str] = field(default_factory=dict)
    deleted: list[int] = field(default_factory=list)
    replies: list[int] = field(default_factory=list)

    async def send(self, content: str, *, reply: bool) -> int:
        number = len(self.contents)
        self.contents[number] = content
        self.calls.append(("send", number, content))
        if reply:
            self.replies.append(number)
        return number

    async def edit(self, message: int, content: str) -> None:
        self.contents[message] = content
        self.calls.append(("edit", message, content))

    async def delete(self, message: int) -> None:
        self.deleted.append(message)
        self.calls.append(("delete", message, ""))


async def test_first_text_is_sent_at_once_as_a_reply() -> None:
    sink = RecordingSink()
    reply = StreamingReply(sink, clock=Clock())
    await reply.add("Hel")
    assert sink.calls == [("send", 0, "Hel")]
    assert sink.replies == [0]


async def test_whitespace_alone_sends_nothing() -> None:
    sink = RecordingSink()
    reply = StreamingReply(sink, clock=Clock())
    await reply.add("\n ")
    assert sink.calls == []
    assert not reply.started


async def test_edits_at_most_once_per_interval() -> None:
    sink, clock = RecordingSink(), Clock()
    reply = StreamingReply(sink, clock=clock, interval=1.0)
    for step in range(50):
        await reply.add(f"w{step} ")
        clock.now += 0.1  # 50 chunks over 5 seconds
    edits = [call for call in sink.calls if call[0] == "edit"]
    assert 4 <= len(edits) <= 5
    await reply.finish()
    assert sink.contents[0] == " ".join(f"w{step}" for step in range(50)) + " "


async def test_finish_always_shows_the_complete_text() -> None:
    sink, clock = RecordingSink(), Clock()
    reply = StreamingReply(sink, clock=clock)
    await reply.add("one ")
    await reply.add("two ")  # within the interval: not shown yet
    assert sink.contents[0] == "one "
    messages = await reply.finish()
    assert messages == [0]
    assert sink.contents[0] == "one two "


async def test_finish_with_the_stored_text_replaces_the_streamed_one() -> None:
    sink = RecordingSink()
    reply = StreamingReply(sink, clock=Clock())
    await reply.add("draft")
    await reply.finish("final text")
    assert sink.contents == {0: "final text"}


async def test_long_replies_continue_in_new_messages() -> None:
    sink, clock = RecordingSink(), Clock()
    reply = StreamingReply(sink, clock=clock)
    words = [f"word{i:04d}" for i in range(700)]
    for word in words:
        await reply.add(word + " ")
        clock.now += 0.05
    messages = await reply.finish()
    assert len(messages) == 4
    assert sink.replies == [0]  # only the first part replies to the user's message
    assert all(len(content) <= MESSAGE_LIMIT for content in sink.contents.values())
    shown = " ".join(sink.contents[number] for number in messages)
    assert shown.split() == words


async def test_earlier_parts_are_not_rewritten_once_a_later_part_exists() -> None:
    sink, clock = RecordingSink(), Clock()
    reply = StreamingReply(sink, clock=clock, interval=0.0)
    for i in range(900):
        await reply.add(f"token{i:03d} ")
    await reply.finish()
    second_sent = next(i for i, call in enumerate(sink.calls) if call[:2] == ("send", 1))
    edits_after_second = [call for call in sink.calls[second_sent:] if call[:2] == ("edit", 0)]
    assert edits_after_second == []


async def test_discard_deletes_what_was_sent() -> None:
    sink = RecordingSink()
    reply = StreamingReply(sink, clock=Clock(), interval=0.0)
    await reply.add("x " * 1500)
    await reply.discard()
    assert sink.deleted == [0, 1]
    assert not reply.started
