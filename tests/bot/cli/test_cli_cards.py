"""`sessionbot personas import`, `export` and `show --json` as a user runs them: a real
subprocess, card files built by the tests, and a chat through the fake model server."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.bot.cli.test_cli import session_id_of, sessionbot
from tests.fakes.openai_server import FakeOpenAI
from tests.situations.cards import V1, b64, charx, png, text_chunks, v2, v3


@pytest.fixture
def env(shipped_env: dict[str, str]) -> dict[str, str]:
    return {**shipped_env, "USER": "tester", "SESSIONBOT_LLM_TIMEOUT": "10"}


@pytest.fixture
def cards(tmp_path: Path) -> Path:
    """A folder with one card of each kind."""
    folder = tmp_path / "cards"
    folder.mkdir()
    (folder / "tom.json").write_text(json.dumps(V1), encoding="utf-8")
    (folder / "mira.png").write_bytes(png([("chara", b64(v2()))]))
    (folder / "mira3.json").write_text(json.dumps(v3(name="Mira Three")), encoding="utf-8")
    (folder / "both.png").write_bytes(png([("chara", b64(v2())), ("ccv3", b64(v3(name="Bo")))]))
    (folder / "mira.charx").write_bytes(charx(v3(name="Charx Mira"), png()))
    return folder


def show(persona: str, env: dict[str, str]) -> dict[str, object]:
    result = sessionbot("personas", "show", persona, "--json", env=env)
    assert result.returncode == 0, result.stderr
    shown: dict[str, object] = json.loads(result.stdout)
    return shown


def test_import_writes_each_card_and_check_is_clean(env: dict[str, str], cards: Path) -> None:
    personas = Path(env["SESSIONBOT_PERSONAS"])
    paths = sorted(str(p) for p in cards.iterdir())
    result = sessionbot("personas", "import", *paths, env=env)
    assert result.returncode == 0, result.stderr
    written = {Path(line).name for line in result.stdout.splitlines()}
    assert written == {"bo.yaml", "charx-mira.yaml", "mira.yaml", "mira-three.yaml", "old-tom.yaml"}
    assert (personas / "mira.png").exists() and (personas / "charx-mira.png").exists()
    check = sessionbot("personas", "check", env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    mira = show("mira", env)
    assert mira["greeting"] == "Well met, {{ user }}."
    assert mira["avatar"] == "mira.png"
    assert mira["render_templates"] is True
    assert mira["tags"] == ["fantasy", "ranger"]
    lore = mira["lore"]
    assert isinstance(lore, dict) and len(lore["entries"]) == 2
    assert show("bo", env)["card"]["nickname"] == "Mimi"  # type: ignore[index]


def test_a_chat_sends_the_situation_for_the_person_and_only_the_fired_lore(
    env: dict[str, str], cards: Path, threaded_openai: FakeOpenAI
) -> None:
    imported = sessionbot("personas", "import", str(cards / "mira.png"), env=env)
    assert imported.returncode == 0, imported.stderr
    chat = sessionbot("chat", "--persona", "mira", env=env, stdin="Have you seen the kraken?\n")
    assert chat.returncode == 0, chat.stderr
    messages = threaded_openai.chat_requests[-1].body["messages"]
    system = messages[0]
    assert system["role"] == "system"
    assert system["content"].startswith("Write as Mira; never speak for tester.\n\n")
    assert system["content"].endswith("\n\nThe kraken sleeps under the north reef.")
    assert "Mermaids" not in json.dumps(messages)
    assert messages[1:3] == [
        {"role": "user", "content": "Is the lamp lit?"},
        {"role": "assistant", "content": "Always, tester."},
    ]
    assert messages[-2] == {"role": "user", "content": "tester: Have you seen the kraken?"}
    assert messages[-1] == {
        "role": "system",
        "content": "Stay in character as Mira, talking to tester.",
    }
    session_id = session_id_of(chat)
    rendered = sessionbot("sessions", "render", str(session_id), "--json", env=env)
    assert rendered.returncode == 0, rendered.stderr
    assert json.loads(rendered.stdout)["lore"] == ["kraken"]
    text = sessionbot("sessions", "render", str(session_id), env=env)
    assert "# lore: kraken\n" in text.stdout


def test_export_then_import_under_a_new_id_gives_the_same_fields(
    env: dict[str, str], cards: Path, tmp_path: Path
) -> None:
    assert sessionbot("personas", "import", str(cards / "mira3.json"), env=env).returncode == 0
    loader_set = ("id", "version", "source", "avatar")  # avatar: the PNG gets a picture
    original = {k: v for k, v in show("mira-three", env).items() if k not in loader_set}
    out_png = tmp_path / "out.png"
    exported = sessionbot("personas", "export", "mira-three", "-o", str(out_png), env=env)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.strip() == str(out_png)
    chunks = text_chunks(out_png.read_bytes())
    assert json.loads(base64.b64decode(chunks["ccv3"]))["spec"] == "chara_card_v3"
    assert json.loads(base64.b64decode(chunks["chara"]))["spec"] == "chara_card_v2"
    json_card = sessionbot(
        "personas", "export", "mira-three", "--format", "json", env=env, cwd=tmp_path
    )
    assert json_card.returncode == 0, json_card.stderr
    assert (tmp_path / "mira-three.json").exists()
    for source, new_id in ((out_png, "from-png"), (tmp_path / "mira-three.json", "from-json")):
        again = sessionbot("personas", "import", str(source), "--id", new_id, env=env)
        assert again.returncode == 0, again.stderr
        copy = {k: v for k, v in show(new_id, env).items() if k not in loader_set}
        assert copy == original


def test_bad_cards_are_one_line_each_and_the_good_ones_are_written(
    env: dict[str, str], cards: Path
) -> None:
    personas = Path(env["SESSIONBOT_PERSONAS"])
    before = sorted(p.name for p in personas.iterdir())
    bad = {
        "nobase64.png": png([("chara", b"@@@")]),
        "cut.png": png([("chara", b64(v2()))])[:-30],
        "noname.json": json.dumps({"description": "who?"}).encode(),
        "future.json": json.dumps({"spec": "chara_card_v9", "data": {"name": "F"}}).encode(),
        "huge.png": png([("chara", b"A" * (8 * 1024 * 1024 + 1))]),
    }
    for name, data in bad.items():
        (cards / name).write_bytes(data)
    paths = [str(cards / name) for name in bad]
    result = sessionbot("personas", "import", *paths, str(cards / "tom.json"), env=env)
    assert result.returncode == 1
    assert result.stdout.strip() == str(personas / "old-tom.yaml")
    lines = result.stderr.splitlines()
    assert len(lines) == len(bad), result.stderr
    for line, path in zip(lines, paths, strict=True):
        assert line.startswith(f"{path}: "), line
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in personas.iterdir()) == sorted([*before, "old-tom.yaml"])


def test_an_existing_persona_is_kept_without_force(env: dict[str, str], cards: Path) -> None:
    card = str(cards / "tom.json")
    assert sessionbot("personas", "import", card, env=env).returncode == 0
    again = sessionbot("personas", "import", card, env=env)
    assert again.returncode == 1
    target = Path(env["SESSIONBOT_PERSONAS"]) / "old-tom.yaml"
    assert again.stderr == f"{card}: {target} already exists; pass --force to overwrite it\n"
    forced = sessionbot("personas", "import", card, "--force", env=env)
    assert forced.returncode == 0, forced.stderr


def test_id_with_several_cards_is_a_usage_error(env: dict[str, str], cards: Path) -> None:
    result = sessionbot(
        "personas", "import", str(cards / "tom.json"), str(cards / "mira.png"), "--id", "x",
        env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        "sessionbot: error: --id names one persona, but several cards were given"
    )


def test_lore_counts_against_the_context_budget(env: dict[str, str]) -> None:
    personas = Path(env["SESSIONBOT_PERSONAS"])
    for persona_id, lore in (("plain", None), ("lorey", "word " * 60)):
        fields: dict[str, object] = {
            "name": persona_id.title(),
            "situation": "You talk.",
            "context": {"token_budget": 150},
        }
        if lore:
            fields["lore"] = {
                "token_budget": 1000,
                "entries": [{"constant": True, "content": lore}],
            }
        (personas / f"{persona_id}.yaml").write_text(json.dumps(fields), encoding="utf-8")
    kept = {}
    for persona_id in ("plain", "lorey"):
        lines = "".join(f"message number {n} about nothing much\n" for n in range(6))
        chat = sessionbot("chat", "--persona", persona_id, env=env, stdin=lines)
        assert chat.returncode == 0, chat.stderr
        rendered = sessionbot("sessions", "render", str(session_id_of(chat)), "--json", env=env)
        view = json.loads(rendered.stdout)
        assert view["tokens"] <= 150
        kept[persona_id] = view["history"]["kept"]
    assert kept["lorey"] < kept["plain"]
