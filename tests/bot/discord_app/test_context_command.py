"""End to end: `/session context` shows what the model is then sent, only to the caller."""

from __future__ import annotations

from pathlib import Path

from tests.bot.discord_app.harness import Harness, embed_of, harness, text_of
from tests.helpers import write_persona

HOST_SITUATION = "You host {{ user }} in {{ place }}. Keep {{ '{{braces}}' }} as they are."


def _host(h: Harness) -> None:
    write_persona(
        h.directory / "personas",
        "host",
        name="Host",
        situation=HOST_SITUATION,
        render_templates=True,
        greeting="Welcome!",
        context={"max_messages": 3},
        example_dialogue=[{"user": "Hello?", "assistant": "Hello, traveller."}],
    )


async def _conversation(h: Harness) -> None:
    """A session with Host in #general: its greeting and two answered messages."""
    await h.command("session start", {"persona": "host"}, channel=h.general, user=h.admin)
    for text in ("first question", "second question"):
        message = await h.say(h.general, h.alice, text)
        await h.fake.wait_until(lambda message=message: bool(h.replies_to(message)))


async def test_context_is_exactly_what_the_model_gets_next(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        _host(h)
        await h.start()
        await _conversation(h)
        session = await h.session_here(h.general)
        assert session is not None

        record = await h.command("session context", channel=h.general, user=h.alice)
        assert record.ephemeral
        fields = {f["name"]: f["value"] for f in embed_of(record)["fields"]}  # type: ignore[index]
        assert fields["History"] == "3 of 5 message(s) fit (at most 3); 2 older left out"
        assert fields["Example exchanges"] == "1"
        assert fields["Summary"] == "none"
        [sent] = [m for m in record.messages if m.attachments]
        prompt = sent.file(f"context-{session.id}.txt").decode()
        assert "You host Alice in #general. Keep {{braces}} as they are." in prompt

        before = len(h.llm.chat_requests)
        asked = await h.say(h.general, h.alice, "third question")
        await h.fake.wait_until(lambda: bool(h.replies_to(asked)))
        request = h.llm.chat_requests[before].body
        shown = prompt.split("\n\n--- ")[1:]
        # What the model got is what was shown, minus the oldest kept message (the window
        # holds three) and plus the new one.
        sent_messages = request["messages"]
        assert [f"{m['role']} ---\n{m['content']}" for m in sent_messages[:3]] == [
            part.rstrip("\n") for part in shown[:3]
        ]
        assert sent_messages[-1] == {"role": "user", "content": "Alice: third question"}
        assert [m["content"] for m in sent_messages[3:-1]] == [
            part.split("\n", 1)[1].rstrip("\n") for part in shown[4:]
        ]


async def test_context_needs_an_active_session_here(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.start()
        record = await h.command("session context", channel=h.random, user=h.alice)
        assert record.ephemeral
        assert text_of(record).startswith("There's no session in this channel.")


async def test_context_is_never_shown_to_the_channel(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        _host(h)
        await h.start()
        await _conversation(h)
        public = len(h.fake.sent_messages(h.general))
        record = await h.command("session context", channel=h.general, user=h.bob)
        assert record.messages and all(m.ephemeral for m in record.messages)
        assert len(h.fake.sent_messages(h.general)) == public
        assert embed_of(record)["title"] == "What Host sees next"
