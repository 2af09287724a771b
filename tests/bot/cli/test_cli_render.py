"""`sessionbot sessions render`: the next reply's prompt, as the model then receives it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bot.cli.test_cli import session_id_of, sessionbot
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import write_persona


@pytest.fixture
def env(shipped_env: dict[str, str]) -> dict[str, str]:
    personas = Path(shipped_env["SESSIONBOT_PERSONAS"])
    write_persona(
        personas,
        "host",
        name="Host",
        situation="You host {{ user }} at the {{ place }}.",
        render_templates=True,
        context={"max_messages": 3},
    )
    return {**shipped_env, "USER": "tester", "SESSIONBOT_LLM_TIMEOUT": "10"}


def test_render_shows_what_the_next_reply_sends(
    env: dict[str, str], threaded_openai: FakeOpenAI
) -> None:
    first = sessionbot("chat", "--persona", "host", env=env, stdin="hello\n")
    assert first.returncode == 0, first.stderr
    session_id = str(session_id_of(first))

    rendered = sessionbot("sessions", "render", session_id, "--user", "tester", "--json", env=env)
    assert rendered.returncode == 0, rendered.stderr
    view = json.loads(rendered.stdout)
    history = view["history"]
    assert (history["stored"], history["kept"], history["left_out"]) == (2, 2, 0)
    assert history["max_messages"] == 3 and len(history["kept_ids"]) == 2
    assert view["persona"] == "Host" and view["model"] == "fake-model"

    again = sessionbot("chat", "--session", session_id, env=env, stdin="and again\n")
    assert again.returncode == 0, again.stderr
    sent = threaded_openai.chat_requests[-1].body["messages"]
    assert sent[:-1] == view["messages"]
    assert sent[0]["content"] == "You host tester at the terminal."
    assert sent[-1] == {"role": "user", "content": "tester: and again"}

    text = sessionbot("sessions", "render", session_id, env=env)
    assert text.returncode == 0, text.stderr
    assert "4 of 4 stored message(s) fit" not in text.stdout  # the window holds three
    assert "3 of 4 stored message(s) fit, 1 left out" in text.stdout
    assert "--- system ---\nYou host there at the terminal.\n" in text.stdout
    assert text.stdout.rstrip().endswith("echo: tester: and again")


def test_render_of_an_unknown_session_is_one_line_with_a_hint(env: dict[str, str]) -> None:
    missing = sessionbot("sessions", "render", "00000000-0000-4000-8000-000000000000", env=env)
    assert missing.returncode == 1
    assert "hint: list sessions with: sessionbot sessions list" in missing.stderr
    assert "Traceback" not in missing.stderr
