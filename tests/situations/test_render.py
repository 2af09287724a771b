"""Rendering situations: plain text passes through, templates render in a strict sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from situations import AgentProfile, TemplateError, TemplateVariables, check_template
from situations import render_situation as render

NOW = datetime(2024, 4, 29, 7, 23, 48, tzinfo=UTC)


def profile(situation: str, *, templates: bool = True) -> AgentProfile:
    return AgentProfile(
        id="tutor",
        name="Quill",
        situation=situation,
        render_templates=templates,
        version="0" * 12,
        source=Path("personas/tutor.yaml"),
    )


def variables(**metadata: object) -> TemplateVariables:
    return TemplateVariables(
        user="Ana", persona="Quill", place="#maths", metadata=metadata, now=NOW
    )


def test_plain_situation_is_returned_unchanged() -> None:
    text = "Use {{ user }} literally and {% this %} too."
    assert render(profile(text, templates=False), variables()) == text


def test_every_variable_renders() -> None:
    text = (
        "{{ user }}|{{ persona }}|{{ place }}|{{ metadata.level }}|{{ date }}|{{ time }}"
        "|{{ now.year }}"
    )
    assert render(profile(text), variables(level=3)) == "Ana|Quill|#maths|3|2024-04-29|07:23|2024"


def test_now_is_converted_to_utc_for_date_and_time() -> None:
    local = datetime(2024, 4, 29, 1, 30, tzinfo=timezone(timedelta(hours=3)))
    values = TemplateVariables(user="Ana", persona="Quill", place="terminal", now=local)
    assert render(profile("{{ date }} {{ time }} {{ now.tzname() }}"), values) == (
        "2024-04-28 22:30 UTC"
    )


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TemplateVariables(user="Ana", persona="Q", place="x", now=datetime(2024, 1, 1))  # noqa: DTZ001


def test_trailing_newline_is_kept() -> None:
    assert render(profile("Hi {{ user }}\n"), variables()) == "Hi Ana\n"


def test_text_is_not_html_escaped() -> None:
    values = TemplateVariables(user="<b>Tom & Jerry</b>", persona="Q", place="x", now=NOW)
    assert render(profile("{{ user }}"), values) == "<b>Tom & Jerry</b>"


def test_optional_metadata_can_be_tested_with_is_defined() -> None:
    text = "{% if metadata.subject is defined %}{{ metadata.subject }}{% else %}any{% endif %}"
    assert render(profile(text), variables()) == "any"
    assert render(profile(text), variables(subject="algebra")) == "algebra"


def test_sandbox_refuses_dunder_access() -> None:
    with pytest.raises(TemplateError) as info:
        render(profile("{{ ''.__class__.__mro__ }}"), variables())
    assert str(info.value) == (
        "Persona 'tutor': situation template line 1: refused by the sandbox: "
        "access to attribute '__class__' of 'str' object is unsafe"
    )
    assert isinstance(info.value.__cause__, SecurityError)


def test_sandbox_refuses_reaching_globals_through_methods() -> None:
    with pytest.raises(TemplateError, match="refused by the sandbox"):
        render(profile("{{ user.format.__globals__ }}"), variables())


def test_templates_cannot_modify_the_metadata() -> None:
    metadata = {"a": 1}
    values = TemplateVariables(user="Ana", persona="Q", place="x", metadata=metadata, now=NOW)
    with pytest.raises(TemplateError, match="refused by the sandbox"):
        render(profile("{{ metadata.update({'a': 2}) }}"), values)
    assert metadata == {"a": 1}


def test_missing_metadata_key_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(TemplateError) as info:
        render(profile("Hello\n{{ metadata.subject }}"), variables())
    assert str(info.value) == (
        "Persona 'tutor': situation template line 2: 'dict object' has no attribute 'subject'"
    )
    assert isinstance(info.value.__cause__, UndefinedError)
    assert info.value.template_line == 2


def test_unknown_variable_at_render_time_is_an_error() -> None:
    with pytest.raises(TemplateError, match="'nobody' is undefined"):
        render(profile("{{ nobody }}"), variables())


def test_syntax_error_at_render_time_has_its_line() -> None:
    with pytest.raises(TemplateError) as info:
        render(profile("ok\nok\n{{ user "), variables())
    assert info.value.persona_id == "tutor"
    assert info.value.template_line == 3
    assert str(info.value).startswith("Persona 'tutor': situation template line 3: unexpected")


def test_python_errors_inside_the_template_become_one_line() -> None:
    with pytest.raises(TemplateError) as info:
        render(profile("a\n{{ 1 // 0 }}"), variables())
    assert str(info.value) == (
        "Persona 'tutor': situation template line 2: ZeroDivisionError: "
        "integer division or modulo by zero"
    )


def test_huge_ranges_are_refused() -> None:
    with pytest.raises(TemplateError, match=r"range\(\) would have 1,000,000,000 items"):
        render(profile("{% for i in range(10**9) %}{% endfor %}"), variables())


def test_check_template_accepts_known_names_globals_and_local_variables() -> None:
    text = (
        "{% set greeting = 'Hi' %}{{ greeting }} {{ user }}"
        "{% for i in range(3) %}{{ loop.index }}{{ i }}{% endfor %}{{ persona }}{{ place }}"
        "{{ metadata }}{{ now }}{{ date }}{{ time }}"
    )
    check_template(profile(text))


def test_check_template_names_the_first_unknown_variable() -> None:
    with pytest.raises(TemplateError) as info:
        check_template(profile("{{ user }}\n{{ zzz }} {{ usr }}\n{{ aaa }}"))
    assert info.value.template_line == 2
    assert info.value.reason == (
        "unknown variable 'usr' (did you mean 'user'?); "
        "available: user, persona, place, metadata, now, date, time"
    )


def test_check_template_ignores_plain_situations() -> None:
    check_template(profile("{{ nope", templates=False))
