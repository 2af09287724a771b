"""A reply left half-written by a process that died is put right by whoever answers next.

The dead process is played by what it leaves behind: the user's message stored, a stub the
bot posted (through Discord's REST API, as that process did) and the reply's draft noting it.
The real bot then starts and catches up.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp

from storage import Role, SessionStore
from tests.bot.discord_app.harness import TOKEN, Harness, harness
from tests.fakes.discord_server import Payload


async def _post_as_bot(h: Harness, content: str, replying_to: Payload | None = None) -> int:
    """A message the bot posts (the dead process's stub), straight through the REST API."""
    url = f"{h.fake.api_base}/channels/{h.general}/messages"
    headers = {"Authorization": f"Bot {TOKEN}"}
    body: dict[str, object] = {"content": content}
    if replying_to is not None:
        body["message_reference"] = {"message_id": replying_to["id"]}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=body, headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        return int((await response.json())["id"])


async def _died_mid_reply(
    h: Harness, *, stored_reply: str | None, noted: bool = True
) -> tuple[Payload, int]:
    """Stop the bot; leave what a process killed mid-reply leaves; return the message, stub."""
    first = await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    assert h.reply_text(first) == "echo: Alice: @sessionbot hi"
    session = await h.session_here(h.general)
    assert session is not None
    await h.stop()
    asked = h.fake.post_while_down(h.general, h.alice, "tell me more")
    stub = await _post_as_bot(h, "Here is what I", replying_to=asked)
    async with SessionStore.open(h.directory / "sessions.db") as store:
        stored = await store.append_message(
            session.id, role=Role.USER, content="tell me more", author_name="Alice",
            author_id=asked["author"]["id"], external_id=asked["id"], tokens=3,
        )  # fmt: skip
        if stored_reply is not None:
            await store.append_message(
                session.id, role=Role.ASSISTANT, content=stored_reply, reply_to=stored.id,
                tokens=4,
            )  # fmt: skip
        if noted:
            await store.save_draft(session.id, stored.id, target="bot", posted=[str(stub)])
    return asked, stub


def _bot_messages_after(h: Harness, message: Payload) -> list[tuple[int, str, bool]]:
    return [
        (sent.id, sent.content, sent.deleted)
        for sent in h.fake.sent_messages(h.general, include_deleted=True)
        if sent.id > int(message["id"])
    ]


async def test_a_stub_of_an_unstored_reply_is_deleted_before_the_fresh_answer(
    h: Harness,
) -> None:
    asked, stub = await _died_mid_reply(h, stored_reply=None)
    await h.start()
    await h.settle()
    after = _bot_messages_after(h, asked)
    assert after[0] == (stub, "Here is what I", True)
    assert [(content, deleted) for _, content, deleted in after[1:]] == [
        ("echo: Alice: tell me more", False)
    ]
    assert h.reply_text(asked) == "echo: Alice: tell me more"
    session = await h.session_here(h.general)
    assert session is not None
    stored = [m for m in await h.history(session) if m.external_id == asked["id"]]
    assert await h.store.draft(session.id, stored[0].id) is None


async def test_a_stub_killed_before_its_draft_was_noted_is_found_by_catch_up_and_deleted(
    h: Harness,
) -> None:
    asked, stub = await _died_mid_reply(h, stored_reply=None, noted=False)
    await h.start()
    await h.settle()
    after = _bot_messages_after(h, asked)
    assert after[0] == (stub, "Here is what I", True)
    assert h.reply_text(asked) == "echo: Alice: tell me more"


async def test_a_stub_is_deleted_when_a_newer_message_is_answered_instead(h: Harness) -> None:
    asked, stub = await _died_mid_reply(h, stored_reply=None)
    later = h.fake.post_while_down(h.general, h.alice, "hello? anyone?")
    await h.start()
    await h.settle()
    after = _bot_messages_after(h, asked)
    assert after[0] == (stub, "Here is what I", True)
    assert [(content, deleted) for _, content, deleted in after[1:]] == [
        ("echo: Alice: hello? anyone?", False)  # one reply, to the newest, as catch-up does
    ]
    assert h.reply_text(later) == "echo: Alice: hello? anyone?"
    session = await h.session_here(h.general)
    assert session is not None
    assert await h.store.session_drafts(session.id) == []


async def test_a_stub_of_a_stored_reply_is_edited_into_it_and_nothing_is_asked_again(
    h: Harness,
) -> None:
    asked, stub = await _died_mid_reply(h, stored_reply="Here is what I think, in full.")
    requests = len(h.llm.chat_requests)
    await h.start()
    await h.settle()
    assert _bot_messages_after(h, asked) == [(stub, "Here is what I think, in full.", False)]
    assert len(h.llm.chat_requests) == requests  # the stored reply is shown, not asked anew
    session = await h.session_here(h.general)
    assert session is not None
    replies = [m for m in await h.history(session) if m.role is Role.ASSISTANT]
    assert [m.content for m in replies][-1] == "Here is what I think, in full."


async def test_a_reply_notes_its_draft_while_it_streams_and_forgets_it_when_shown(
    h: Harness,
) -> None:
    first = await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    session = await h.session_here(h.general)
    assert session is not None and h.replies_to(first)
    h.llm.queue_reply(["Once ", "upon ", "a ", "time."])
    h.llm.chunk_delay = 0.4
    asked = await h.fake.send_message(h.general, h.alice, "a story?")
    await h.fake.wait_until(lambda: bool(h.replies_to(asked)))
    stored = [m for m in await h.history(session) if m.external_id == asked["id"]]
    draft = await h.store.draft(session.id, stored[0].id)
    assert draft is not None
    assert (draft.target, draft.posted) == ("bot", (str(h.replies_to(asked)[0].id),))
    await h.settle()
    assert h.reply_text(asked) == "Once upon a time."
    assert await h.store.draft(session.id, stored[0].id) is None


async def test_a_persona_stub_left_through_a_webhook_is_deleted_through_it(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path, webhooks=True) as w:
        await w.start()
        await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hi")
        session = await w.session_here(w.general)
        assert session is not None
        [hook] = w.fake.webhooks.in_channel(w.general)
        await w.stop()
        asked = w.fake.post_while_down(w.general, w.alice, "and then?")
        stub = await _execute(w, hook.payload, "-# ↪ Alice\nAnd then the")
        async with SessionStore.open(w.directory / "sessions.db") as store:
            stored = await store.append_message(
                session.id, role=Role.USER, content="and then?", author_name="Alice",
                author_id=asked["author"]["id"], external_id=asked["id"], tokens=2,
            )  # fmt: skip
            await store.save_draft(
                session.id, stored.id, target=f"webhook:{hook.id}", posted=[str(stub)]
            )
        await w.start()
        await w.settle()
        after = [
            (m.id, m.content, m.deleted)
            for m in w.fake.webhooks.sent(w.general, include_deleted=True)
            if m.id > int(asked["id"])
        ]
        assert after == [
            (stub, "-# ↪ Alice\nAnd then the", True),
            (after[1][0], "-# ↪ Alice\necho: Alice: and then?", False),
        ]


async def _execute(h: Harness, hook: Payload, content: str) -> int:
    """A message the webhook posts (the dead process's stub), through the REST API."""
    url = f"{h.fake.api_base}/webhooks/{hook['id']}/{hook['token']}?wait=true"
    async with aiohttp.ClientSession() as http, http.post(url, json={"content": content}) as got:
        assert got.status == 200, await got.text()
        return int((await got.json())["id"])
