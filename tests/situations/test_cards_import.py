"""Importing character cards: every container and spec, the mapping of each field, the round
trip through export, and cards that are refused with one sentence and nothing written."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from situations import check_directory, load_profile
from situations.cards import CardError, CardExists, export_card, import_card
from situations.models import AgentProfile
from tests.situations.cards import BOOK, V1, b64, charx, png, text_chunks, v2, v3

IMAGE = png(colour=b"\x01\x02\x03")


def imported(directory: Path, data: bytes, **options: Any) -> AgentProfile:
    result = import_card(data, directory, **options)
    assert result.path.exists()
    return load_profile(result.path)


def fields(profile: AgentProfile) -> dict[str, Any]:
    return profile.model_dump(exclude={"id", "version", "source", "avatar"})


def test_v1_json_maps_each_field(personas: Path) -> None:
    profile = imported(personas, json.dumps(V1).encode())
    assert profile.id == "old-tom"
    assert profile.name == "Old Tom"
    assert profile.render_templates
    assert profile.situation == (
        "Old Tom is a lighthouse keeper who talks to {{ user }}.\n\ngruff, kind\n\n"
        "A stormy night at the lighthouse."
    )
    assert profile.greeting == "Evening, {{ user }}. Mind the stairs."
    [example] = profile.example_dialogue
    assert (example.user, example.assistant) == ("Is the lamp lit?", "Always, {{ user }}.")
    assert profile.card == {}
    assert profile.lore is None
    assert not (personas / "old-tom.png").exists()


def test_v2_png_maps_each_field_and_keeps_the_rest(personas: Path) -> None:
    profile = imported(personas, png([("chara", b64(v2()))]))
    assert profile.id == "mira"
    assert profile.situation == (
        "Write as Mira; never speak for {{ user }}.\n\n"
        "Mira is a ranger of the northern woods.\n\ngruff, kind\n\n"
        "A stormy night at the lighthouse."
    )
    assert profile.greeting == "Well met, {{ user }}."
    assert profile.alternate_greetings == ["Oh, {{ user }}, it's you.", "{{ user }}! Over here!"]
    assert profile.post_history_instructions == "Stay in character as Mira, talking to {{ user }}."
    assert profile.tags == ["fantasy", "ranger"]
    assert profile.card == {
        "creator_notes": "Made for tests.",
        "creator": "tester",
        "character_version": "1.2",
        "extensions": {"talkativeness": "0.5", "depth_prompt": {"depth": 4, "prompt": "hi"}},
    }
    lore = profile.lore
    assert lore is not None
    assert (lore.name, lore.scan_depth, lore.token_budget) == ("Coast lore", 2, 300)
    assert lore.extra == {"recursive_scanning": False, "extensions": {"x": 1}}
    kraken, mermaid = lore.entries
    assert (kraken.keys, kraken.priority, kraken.insertion_order) == (["kraken"], 5, 10)
    assert kraken.content == "The kraken sleeps under the north reef."
    assert kraken.extra == {"id": 1, "comment": "sea monster"}
    assert mermaid.extra == {"id": 2, "position": "before_char"}
    assert profile.avatar == "mira.png"
    saved = (personas / "mira.png").read_bytes()
    assert "chara" not in text_chunks(saved)  # the avatar is the picture, not a stale card


def test_v3_json_uses_the_nickname_for_char_and_keeps_v3_fields(personas: Path) -> None:
    profile = imported(personas, json.dumps(v3()).encode())
    assert profile.name == "Mira"
    assert profile.situation.startswith("Write as Mimi; never speak for {{ user }}.")
    assert profile.card["nickname"] == "Mimi"
    assert profile.card["source"] == ["https://example.invalid/mira"]
    assert profile.card["creation_date"] == 1700000000
    assert profile.card["group_only_greetings"] == ["Hello all."]
    assert profile.card["assets"] == [
        {"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}
    ]


def test_a_png_with_both_chunks_is_read_from_ccv3(personas: Path) -> None:
    data = png([("chara", b64(v2(name="Old name"))), ("ccv3", b64(v3()))])
    profile = imported(personas, data)
    assert profile.name == "Mira"
    assert profile.card["nickname"] == "Mimi"


def test_charx_takes_card_json_and_its_icon(personas: Path) -> None:
    profile = imported(personas, charx(v3(), IMAGE))
    assert profile.name == "Mira"
    assert profile.avatar == "mira.png"
    assert (personas / "mira.png").read_bytes() == IMAGE


def test_imported_personas_pass_the_directory_check(personas: Path) -> None:
    import_card(json.dumps(V1).encode(), personas)
    import_card(png([("chara", b64(v2()))]), personas)
    import_card(charx(v3(), IMAGE), personas, persona_id="mira-charx")
    profiles, errors = check_directory(personas)
    assert errors == []
    assert sorted(p.id for p in profiles) == ["mira", "mira-charx", "old-tom"]


def test_text_with_braces_reaches_the_model_as_written(personas: Path) -> None:
    from situations import TemplateVariables, render_situation

    card = dict(V1, description="Say {{char}} {% not jinja %} {# nor this #} {{x}} to {{User}}")
    profile = imported(personas, json.dumps(card).encode())
    rendered = render_situation(profile, TemplateVariables(user="Ana", persona="x", place="y"))
    assert rendered.startswith("Say Old Tom {% not jinja %} {# nor this #} {{x}} to Ana")


def test_unpaired_example_text_stays_in_the_situation(personas: Path) -> None:
    card = dict(V1, mes_example="Tom speaks in short lines.\n<START>\n{{char}}: Aye.\n")
    profile = imported(personas, json.dumps(card).encode())
    assert profile.example_dialogue == []
    assert profile.situation.endswith("Tom speaks in short lines.\nOld Tom: Aye.")


@pytest.mark.parametrize("form", ["png", "json"])
def test_export_then_import_gives_the_same_persona(personas: Path, form: str) -> None:
    original = imported(personas, png([("ccv3", b64(v3()))]))
    card = export_card(original, form)  # type: ignore[arg-type]
    again = imported(personas, card, persona_id="copy")
    assert fields(again) == fields(original)


def test_a_hand_written_persona_survives_the_round_trip(personas: Path) -> None:
    (personas / "sara.yaml").write_text(
        "name: Sara\ndescription: Educator\nsituation: You are Sara {{ not a macro }}.\n"
        "model: gpt-4o-mini\ntemperature: 0.3\ngreeting: Hi\ncontext: {max_messages: 7}\n"
        "metadata: {k: v}\ntags: [a]\navatar_url: https://example.invalid/sara.png\n"
        "lore:\n  entries:\n    - {keys: [tea], content: Sara likes tea.}\n",
        encoding="utf-8",
    )
    original = load_profile(personas / "sara.yaml")
    again = imported(personas, export_card(original, "png"), persona_id="sara-copy")
    assert fields(again) == fields(original)
    assert again.avatar is None and not (personas / "sara-copy.png").exists()


def test_the_exported_png_has_a_v3_and_a_v2_chunk(personas: Path) -> None:
    profile = imported(personas, png([("ccv3", b64(v3()))]))
    chunks = text_chunks(export_card(profile, "png"))
    v3_card = json.loads(base64.b64decode(chunks["ccv3"]))
    v2_card = json.loads(base64.b64decode(chunks["chara"]))
    assert (v3_card["spec"], v3_card["spec_version"]) == ("chara_card_v3", "3.0")
    assert (v2_card["spec"], v2_card["spec_version"]) == ("chara_card_v2", "2.0")
    assert v3_card["data"]["nickname"] == "Mimi"
    assert "nickname" not in v2_card["data"]
    assert v2_card["data"]["character_book"]["entries"][0]["keys"] == ["kraken"]
    assert v3_card["data"]["first_mes"] == "Well met, {{user}}."


def test_the_exported_png_is_the_avatar_picture(personas: Path) -> None:
    profile = imported(personas, png([("chara", b64(v2()))], colour=b"\x09\x08\x07"))
    exported = export_card(profile, "png")
    plain = (personas / "mira.png").read_bytes()
    assert exported.startswith(plain[: len(plain) - 12])  # the same chunks up to IEND


MALFORMED = {
    "bad base64": png([("chara", b"not*base64!")]),
    "truncated png": png([("chara", b64(v2()))])[:-20],
    "json without a name": json.dumps({"description": "nobody"}).encode(),
    "unknown spec": json.dumps({"spec": "chara_card_v9", "data": {"name": "X"}}).encode(),
    "oversized chunk": png([("chara", b"A" * (8 * 1024 * 1024 + 4))]),
    "not json": b"{'name': 'single quotes'}",
    "png without a card": png(),
    "charx without card.json": charx(v3(), IMAGE).replace(b"card.json", b"card.jsox"),
    "damaged chunk": png([("chara", b64(v2()))]).replace(b"chara\0e", b"chara\0f"),
    "nan in json": b'{"name": "N", "description": NaN}',
    "deeply nested": b'{"name": "N", "extensions": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "nested past the cap": b'{"name": "N", "extensions": ' + b"[" * 600 + b"]" * 600 + b"}",
}
REASONS = {
    "bad base64": "the PNG's 'chara' chunk is not valid base64",
    "truncated png": "the PNG is truncated (its 'IDAT' chunk is cut off)",
    "json without a name": "the file is a card without a name",
    "unknown spec": (
        'the file has an unknown card spec "chara_card_v9" (expected chara_card_v2 or '
        "chara_card_v3)"
    ),
    "oversized chunk": "the PNG's 'chara' chunk is larger than 8 MiB",
    "png without a card": "the PNG carries no card (no 'ccv3' or 'chara' text chunk)",
    "charx without card.json": "the .charx has no card.json",
    "nested past the cap": "the file nests its JSON more than 32 levels deep",
    "damaged chunk": "the PNG is damaged (its 'tEXt' chunk fails its checksum)",
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_a_malformed_card_is_one_sentence_and_writes_nothing(personas: Path, kind: str) -> None:
    with pytest.raises(CardError) as info:
        import_card(MALFORMED[kind], personas)
    reason = str(info.value)
    assert "\n" not in reason and reason
    if kind in REASONS:
        assert reason == REASONS[kind]
    assert list(personas.iterdir()) == []


def test_a_card_whose_persona_is_invalid_writes_nothing(personas: Path) -> None:
    book = dict(BOOK, entries=[{"keys": [], "content": "orphan"}])
    with pytest.raises(CardError) as info:
        import_card(png([("chara", b64(v2(character_book=book)))]), personas)
    assert str(info.value) == (
        "the persona it makes is not valid: lore.entries[0]: an entry needs at least one key, "
        "unless it is constant: true"
    )
    assert list(personas.iterdir()) == []


def test_an_existing_persona_is_not_overwritten_without_force(personas: Path) -> None:
    first = import_card(png([("chara", b64(v2()))]), personas)
    before = first.path.read_bytes()
    with pytest.raises(CardExists) as info:
        import_card(png([("chara", b64(v2(description="changed")))]), personas)
    assert info.value.path == first.path
    assert first.path.read_bytes() == before
    forced = import_card(png([("chara", b64(v2(description="changed")))]), personas, force=True)
    assert "changed" in forced.profile.situation


def test_an_invalid_id_is_refused(personas: Path) -> None:
    with pytest.raises(CardError, match="'Bad Id' is not a valid persona id"):
        import_card(json.dumps(V1).encode(), personas, persona_id="Bad Id")
    assert list(personas.iterdir()) == []


def test_a_name_without_letters_gets_a_usable_id(personas: Path) -> None:
    assert import_card(json.dumps(dict(V1, name="Ëlïza ☆")).encode(), personas).profile.id == (
        "eliza"
    )
    assert import_card(json.dumps(dict(V1, name="☆☆")).encode(), personas).profile.id == "persona"
