"""End to end: `/persona import` turns a card sent as an attachment into a persona at once, for
managers only; everything it refuses is said only to the caller. `/persona show` shows the
avatar and the lore."""

from __future__ import annotations

from tests.bot.discord_app.harness import Harness, embed_of, is_ephemeral, text_of
from tests.situations.cards import b64, png, v2

CARD = png([("chara", b64(v2()))], colour=b"\x05\x06\x07")


async def test_a_manager_imports_a_card_and_can_use_it_at_once(h: Harness) -> None:
    owner = h.fake.guild(h.guild).owner_id
    record = await h.command(
        "persona import", {"file": ("mira.png", CARD)}, channel=h.general, user=owner
    )
    assert is_ephemeral(record)
    assert text_of(record) == (
        "Imported **Mira** as `mira` (2 lore entries). "
        "Start a session with `/session start persona:mira`."
    )
    personas = h.directory / "personas"
    assert (personas / "mira.yaml").exists()
    avatar = (personas / "mira.png").read_bytes()

    shown = await h.command("persona show", {"persona": "mira"}, channel=h.general, user=h.alice)
    embed = embed_of(shown)
    fields = {f["name"]: f["value"] for f in embed["fields"]}  # type: ignore[index]
    assert fields["Lore"] == "2 entries"
    assert embed["thumbnail"]["url"] == "attachment://mira.png"  # type: ignore[index]
    assert shown.original is not None and shown.original.file("mira.png") == avatar

    started = await h.command("session start", {"persona": "mira"}, channel=h.random, user=h.admin)
    asked = await h.say(h.random, h.alice, "Any news of the kraken?")
    await h.fake.wait_until(lambda: bool(h.replies_to(asked)))
    messages = h.llm.chat_requests[-1].body["messages"]
    name = messages[-2]["content"].partition(":")[0]
    assert messages[-2]["content"] == f"{name}: Any news of the kraken?"
    assert text_of(started).startswith("Well met, Olga.\n")  # the greeting, to its starter
    assert messages[0]["content"].startswith(f"Write as Mira; never speak for {name}.")
    assert "The kraken sleeps under the north reef." in messages[0]["content"]
    assert "Mermaids" not in messages[0]["content"]
    assert messages[-1] == {
        "role": "system",
        "content": f"Stay in character as Mira, talking to {name}.",
    }


async def test_import_is_refused_to_members_without_manage_server(h: Harness) -> None:
    record = await h.command(
        "persona import", {"file": ("mira.png", CARD)}, channel=h.general, user=h.alice
    )
    assert is_ephemeral(record)
    assert text_of(record).startswith("You need the Manage Server permission")
    assert not (h.directory / "personas" / "mira.yaml").exists()


async def test_bad_cards_and_taken_ids_are_refused_privately(h: Harness) -> None:
    owner = h.fake.guild(h.guild).owner_id
    personas = h.directory / "personas"
    before = sorted(p.name for p in personas.iterdir())

    bad = await h.command(
        "persona import",
        {"file": ("broken.png", png([("chara", b"%%%")]))},
        channel=h.general,
        user=owner,
    )
    assert is_ephemeral(bad)
    assert text_of(bad) == (
        "I couldn't import `broken.png`: the PNG's 'chara' chunk is not valid base64."
    )
    assert sorted(p.name for p in personas.iterdir()) == before

    taken = await h.command(
        "persona import", {"file": ("sara.png", CARD), "id": "sara"}, channel=h.general, user=owner
    )
    assert is_ephemeral(taken)
    assert text_of(taken) == (
        "A persona `sara` already exists. Run the command again with `overwrite:true` to "
        "replace it, or give another `id`."
    )
    assert "You are Sara." in (personas / "sara.yaml").read_text()

    replaced = await h.command(
        "persona import",
        {"file": ("sara.png", CARD), "id": "sara", "overwrite": True},
        channel=h.general,
        user=owner,
    )
    assert text_of(replaced).startswith("Imported **Mira** as `sara`")
    assert h.running.engine.persona("sara").name == "Mira"
    assert h.fake.sent_messages(h.general) == []  # nothing was said in the channel
