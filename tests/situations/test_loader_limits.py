"""Loading persona files: a runaway template is a load error with file and line, and persona
files may be symbolic links only to files inside the persona directory."""

from __future__ import annotations

import time
from pathlib import Path

from situations import PersonaRegistry, TemplateRenderer, check_directory, load_profile
from tests.situations.conftest import MINIMAL, load_errors, write

RUNAWAY = (
    "name: Loop\nrender_templates: true\n"
    'situation: "{% for i in range(60000) %}{% for j in range(60000) %}{% endfor %}{% endfor %}"\n'
)
GOOD = (
    "name: Loop\nrender_templates: true\nsituation: '{% for i in range(3) %}{{ i }}{% endfor %}'\n"
)
SLOW = (
    "personas/loop.yaml:3: situation: template line 1: took longer than 1 s to render "
    "(the limit); look for a runaway loop or macro"
)


def test_a_runaway_template_is_a_load_error_at_the_situation_line(personas: Path) -> None:
    path = write(personas, "loop.yaml", RUNAWAY)
    start = time.perf_counter()
    assert load_errors(path) == [SLOW]
    assert time.perf_counter() - start < 10


def test_a_template_over_a_size_limit_is_a_load_error(personas: Path) -> None:
    text = (
        "name: Big\nrender_templates: true\nmetadata: {}\nsituation: |\n  Hi\n  {{ 'x' * 10**6 }}\n"
    )
    path = write(personas, "big.yaml", text)
    assert load_errors(path) == [
        "personas/big.yaml:4: situation: template line 2: '*' would make a value of "
        "1,000,000 characters or items (the limit is 65,536)"
    ]


def test_a_template_that_needs_session_values_still_loads(personas: Path) -> None:
    text = "name: T\nrender_templates: true\nsituation: '{{ metadata.subject * 3 }}'\n"
    assert load_profile(write(personas, "t.yaml", text)).situation == "{{ metadata.subject * 3 }}"


async def test_the_registry_keeps_the_last_good_version_of_a_runaway_edit(
    personas: Path,
) -> None:
    path = write(personas, "loop.yaml", GOOD)
    with TemplateRenderer() as renderer:
        registry = PersonaRegistry(personas, renderer)
        await registry.load()
        good = registry.get("loop")
        path.write_text(RUNAWAY, encoding="utf-8")
        report = await registry.load()
    assert [str(error) for error in report.errors] == [SLOW]
    assert registry.get("loop") is good


def test_check_directory_reports_the_runaway_and_loads_the_rest(personas: Path) -> None:
    write(personas, "loop.yaml", RUNAWAY)
    write(personas, "sara.yaml", MINIMAL)
    profiles, errors = check_directory(personas)
    assert [profile.id for profile in profiles] == ["sara"]
    assert [str(error) for error in errors] == [SLOW]


def test_links_within_the_directory_load(personas: Path) -> None:
    (personas / "shared").mkdir()
    write(personas / "shared", "base.yaml", MINIMAL)
    (personas / "sara.yaml").symlink_to(Path("shared") / "base.yaml")
    (personas / "sara2.yaml").symlink_to((personas / "sara.yaml").resolve())
    profiles, errors = check_directory(personas)
    assert errors == []
    assert sorted(profile.id for profile in profiles) == ["sara", "sara2"]


async def test_links_to_files_outside_the_directory_are_refused(
    personas: Path, tmp_path: Path
) -> None:
    outside = write(tmp_path, "secret.yaml", MINIMAL)
    (personas / "evil.yaml").symlink_to(outside)
    (personas / "evil2.yaml").symlink_to(Path("..") / "secret.yaml")
    write(personas, "sara.yaml", MINIMAL)
    expected = [
        f"personas/{name}.yaml: is a symbolic link to {outside.resolve()}, outside the "
        "persona directory; move or copy the file into the directory instead"
        for name in ("evil", "evil2")
    ]
    profiles, errors = check_directory(personas)
    assert [profile.id for profile in profiles] == ["sara"]
    assert [str(error) for error in errors] == expected
    registry = PersonaRegistry(personas)
    report = await registry.load()
    assert [str(error) for error in report.errors] == expected
    assert [profile.id for profile in registry.all()] == ["sara"]
    assert load_errors(personas / "evil.yaml") == expected[:1]
