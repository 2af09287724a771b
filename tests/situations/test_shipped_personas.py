"""The personas shipped in personas/ load cleanly and say what they should."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from situations import AgentProfile, TemplateVariables, check_directory, render_situation

PERSONAS = Path(__file__).resolve().parents[2] / "personas"
HEADER = "# yaml-language-server: $schema=./persona.schema.json"


@pytest.fixture(scope="module")
def shipped() -> dict[str, AgentProfile]:
    profiles, errors = check_directory(PERSONAS)
    assert [str(error) for error in errors] == []
    return {profile.id: profile for profile in profiles}


def test_the_three_personas_load_without_errors(shipped: dict[str, AgentProfile]) -> None:
    assert sorted(shipped) == ["gamemaster", "sara", "tutor"]


@pytest.mark.parametrize("name", ["sara.yaml", "tutor.yaml", "gamemaster.yaml"])
def test_first_line_points_editors_at_the_schema(name: str) -> None:
    assert (PERSONAS / name).read_text(encoding="utf-8").splitlines()[0] == HEADER


def test_every_persona_has_a_greeting_and_an_example(shipped: dict[str, AgentProfile]) -> None:
    for profile in shipped.values():
        assert profile.greeting
        assert profile.example_dialogue
        assert profile.description


def test_sara_is_an_educator_with_safety_guidance(shipped: dict[str, AgentProfile]) -> None:
    situation = shipped["sara"].situation
    assert situation.startswith("You are Sara, a mental health professional, public speaker")
    for phrase in [
        "About you:",
        "Important guidelines:",
        "not the person's therapist",
        "Never diagnose",
        "Encourage professional help",
        "emergency number",
        "988",
        "116 123",
        "self-harm",
    ]:
        assert phrase in situation, phrase
    assert shipped["sara"].render_templates is False
    assert render_situation(shipped["sara"], variables()) == situation


def test_tutor_renders_user_place_and_date(shipped: dict[str, AgentProfile]) -> None:
    tutor = shipped["tutor"]
    assert tutor.render_templates
    text = render_situation(tutor, variables())
    assert "You are talking\nwith Ana (#maths). Today is 2024-04-29." in text
    assert "subject" not in text.split("\n\n")[0]
    with_subject = render_situation(tutor, variables(subject="fractions"))
    assert "The subject for this session is fractions." in with_subject
    assert "{{" not in with_subject


def test_gamemaster_runs_a_group_and_summarizes(shipped: dict[str, AgentProfile]) -> None:
    master = shipped["gamemaster"]
    assert master.context.overflow == "summarize"
    assert "Address players by name" in master.situation
    assert "Several people share this one session" in master.situation


def variables(**metadata: object) -> TemplateVariables:
    now = datetime(2024, 4, 29, 7, 23, tzinfo=UTC)
    return TemplateVariables(
        user="Ana", persona="Quill", place="#maths", metadata=metadata, now=now
    )
