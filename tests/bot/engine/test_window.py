"""What of a session's history fits the context window, and how overflow is summarised."""

from __future__ import annotations

from bot.engine import Engine, Incoming
from storage import Session, SessionStore
from tests.bot.engine.conftest import StartWith, say, submit_all
from tests.fakes.openai_server import FakeOpenAI


async def narrator(start_with: StartWith, max_messages: int) -> tuple[Engine, Session]:
    """A session whose persona folds the messages that no longer fit into a summary."""
    context = {"max_messages": max_messages, "overflow": "summarize"}
    return await start_with("gm", name="GM", situation="Narrate.", context=context)


async def test_oldest_messages_drop_first_within_the_token_budget(start_with: StartWith) -> None:
    engine, session = await start_with(
        "tight", name="T", situation="Short.", context={"token_budget": 100}
    )
    await submit_all(engine, session.id, [f"message {i} " + "word " * 8 for i in range(12)])

    context = await engine.preview(session.id, place="lab")

    kept = [m.content.split()[1] for m in context.history]
    assert kept == [str(i) for i in range(12 - len(kept), 12)]  # a contiguous newest suffix
    assert 0 < len(kept) < 12
    assert context.omitted == 12 - len(kept)
    assert context.tokens <= 100


async def test_the_message_being_answered_is_kept_even_over_budget(
    fake_openai: FakeOpenAI, start_with: StartWith
) -> None:
    engine, session = await start_with(
        "tiny", name="T", situation="S.", context={"token_budget": 100}
    )
    await say(engine, session.id, "word " * 300)
    sent = fake_openai.chat_requests[-1].body["messages"]
    assert sent[-1]["content"].startswith("Ana: word word")


async def test_max_messages_caps_the_history(start_with: StartWith) -> None:
    engine, session = await start_with("few", name="F", situation="S.", context={"max_messages": 3})
    await submit_all(engine, session.id, [f"m{i}" for i in range(6)])
    context = await engine.preview(session.id, place="lab")
    assert [m.content for m in context.history] == ["m3", "m4", "m5"]
    assert context.omitted >= 1


async def test_a_burst_of_waiting_messages_does_not_shrink_the_window(
    fake_openai: FakeOpenAI, start_with: StartWith
) -> None:
    engine, session = await start_with("few", name="F", situation="S.", context={"max_messages": 3})
    stored = await submit_all(engine, session.id, [f"a{i}" for i in range(6)])
    # arrive while the reply to a5 is still to come
    await submit_all(engine, session.id, [f"b{i}" for i in range(3)], name="B")

    await engine.respond(session.id, stored[-1], place="lab").collect()

    sent = [m["content"] for m in fake_openai.chat_requests[-1].body["messages"][1:]]
    assert sent == ["A: a3", "A: a4", "A: a5"]


async def test_summarize_folds_overflow_into_the_summary_once(
    store: SessionStore, fake_openai: FakeOpenAI, start_with: StartWith
) -> None:
    engine, session = await narrator(start_with, max_messages=6)
    await submit_all(engine, session.id, [f"m{i}" for i in range(7)])
    fake_openai.queue_reply("SUMMARY: A said m0 to m3.")
    fake_openai.queue_reply("The story goes on.")

    turn = await engine.chat(session.id, Incoming(content="m7", author_name="A"), place="lab")
    assert await turn.collect() == "The story goes on."

    summary_request, reply_request = fake_openai.chat_requests[-2:]
    assert summary_request.body.get("stream") is not True
    assert "A: m0" in summary_request.body["messages"][1]["content"]
    stored = await store.get_session(session.id)
    assert stored.summary == "SUMMARY: A said m0 to m3."
    assert turn.context is not None and turn.context.summarized == 5
    system = reply_request.body["messages"][0]["content"]
    assert system.startswith("Narrate.") and "SUMMARY: A said m0 to m3." in system
    assert [m["content"] for m in reply_request.body["messages"][1:]] == ["A: m5", "A: m6", "A: m7"]

    await say(engine, session.id, "m8", name="A")  # fits again: no second summary call
    assert len(fake_openai.chat_requests) == 3


async def test_failed_summary_falls_back_to_truncation(
    store: SessionStore, fake_openai: FakeOpenAI, start_with: StartWith
) -> None:
    engine, session = await narrator(start_with, max_messages=2)
    await submit_all(engine, session.id, [f"m{i}" for i in range(4)])
    fake_openai.fail_next(400)
    reply = await say(engine, session.id, "m4", name="A")
    assert reply == "echo: A: m4"
    assert (await store.get_session(session.id)).summary is None
