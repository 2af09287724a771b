"""The registry keeps the last good version of each persona across reloads."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest

from situations import PersonaNotFound, PersonaRegistry, ReloadReport
from tests.situations.conftest import MINIMAL, write

BROKEN = "name: Sara\nsituation: x\ntemperature: 9\n"


async def test_empty_directory_loads_nothing(personas: Path) -> None:
    registry = PersonaRegistry(personas)
    assert await registry.load() == ReloadReport()
    assert registry.all() == []
    assert registry.generation == 0


async def test_added_file_is_loaded_and_bumps_the_generation(personas: Path) -> None:
    write(personas, "sara.yaml", MINIMAL)
    write(personas, "tutor.yml", MINIMAL.replace("Sara", "Quill"))
    registry = PersonaRegistry(personas)
    report = await registry.load()
    assert report == ReloadReport(added=["sara", "tutor"])
    assert report.changed
    assert registry.generation == 1
    assert [profile.id for profile in registry.all()] == ["sara", "tutor"]
    assert registry.get("tutor").name == "Quill"
    assert registry.maybe_get("nobody") is None


async def test_get_unknown_id_raises_with_the_available_ids(personas: Path) -> None:
    write(personas, "sara.yaml", MINIMAL)
    registry = PersonaRegistry(personas)
    await registry.load()
    with pytest.raises(PersonaNotFound, match=r"Did you mean 'sara'\? Available personas: sara\."):
        registry.get("sarah")


async def test_unchanged_files_are_not_reported_as_updated(personas: Path) -> None:
    path = write(personas, "sara.yaml", MINIMAL)
    registry = PersonaRegistry(personas)
    await registry.load()
    loaded = registry.get("sara")
    path.write_text(MINIMAL, encoding="utf-8")  # same bytes, new modification time
    os.utime(path, (1, 1))
    report = await registry.load()
    assert report == ReloadReport()
    assert not report.changed
    assert registry.generation == 1
    assert registry.get("sara") is loaded


async def test_edited_file_is_updated(personas: Path) -> None:
    path = write(personas, "sara.yaml", MINIMAL)
    registry = PersonaRegistry(personas)
    await registry.load()
    old_version = registry.get("sara").version
    path.write_text(MINIMAL.replace("Sara", "Sara B"), encoding="utf-8")
    assert await registry.load() == ReloadReport(updated=["sara"])
    assert registry.get("sara").name == "Sara B"
    assert registry.get("sara").version != old_version
    assert registry.generation == 2


async def test_bad_edit_keeps_the_last_good_version(personas: Path) -> None:
    path = write(personas, "sara.yaml", MINIMAL)
    registry = PersonaRegistry(personas)
    await registry.load()
    good = registry.get("sara")
    path.write_text(BROKEN, encoding="utf-8")
    report = await registry.load()
    expected = ["personas/sara.yaml:3: temperature: must be <= 2"]
    assert report.added == report.updated == report.removed == []
    assert [str(error) for error in report.errors] == expected
    assert [str(error) for error in registry.errors] == expected
    assert registry.get("sara") is good
    assert registry.generation == 2


async def test_fixing_the_file_clears_its_errors(personas: Path) -> None:
    path = write(personas, "sara.yaml", MINIMAL)
    registry = PersonaRegistry(personas)
    await registry.load()
    path.write_text(BROKEN, encoding="utf-8")
    await registry.load()
    path.write_text(MINIMAL.replace("Sara", "Sara C"), encoding="utf-8")
    report = await registry.load()
    assert report == ReloadReport(updated=["sara"])
    assert registry.errors == []
    assert registry.get("sara").name == "Sara C"
    assert registry.generation == 3


async def test_removed_file_removes_the_persona(personas: Path) -> None:
    path = write(personas, "sara.yaml", MINIMAL)
    registry = PersonaRegistry(personas)
    await registry.load()
    path.unlink()
    assert await registry.load() == ReloadReport(removed=["sara"])
    assert registry.maybe_get("sara") is None
    assert registry.generation == 2


async def test_removing_a_broken_file_drops_the_kept_version_and_its_errors(
    personas: Path,
) -> None:
    path = write(personas, "sara.yaml", MINIMAL)
    registry = PersonaRegistry(personas)
    await registry.load()
    path.write_text(BROKEN, encoding="utf-8")
    await registry.load()
    path.unlink()
    assert await registry.load() == ReloadReport(removed=["sara"])
    assert registry.errors == []


async def test_a_file_that_was_never_good_only_reports_errors(personas: Path) -> None:
    write(personas, "sara.yaml", MINIMAL)
    write(personas, "bad.yaml", BROKEN)
    registry = PersonaRegistry(personas)
    report = await registry.load()
    assert report.added == ["sara"]
    assert [str(error) for error in report.errors] == [
        "personas/bad.yaml:3: temperature: must be <= 2"
    ]
    assert registry.maybe_get("bad") is None
    assert await registry.load() == ReloadReport(errors=report.errors)
    assert registry.generation == 1


async def test_same_id_in_yaml_and_yml_is_an_error(personas: Path) -> None:
    write(personas, "sara.yaml", MINIMAL)
    write(personas, "sara.yml", MINIMAL.replace("Sara", "Other"))
    registry = PersonaRegistry(personas)
    report = await registry.load()
    assert report.added == ["sara"]
    assert registry.get("sara").name == "Sara"
    assert [str(error) for error in report.errors] == [
        "personas/sara.yml: persona id 'sara' is already defined by personas/sara.yaml; "
        "rename or remove one"
    ]


async def test_missing_directory_is_an_error_and_keeps_the_personas(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "personas"
    directory.mkdir()
    write(directory, "sara.yaml", MINIMAL)
    registry = PersonaRegistry(directory)
    await registry.load()
    (directory / "sara.yaml").unlink()
    directory.rmdir()
    report = await registry.load()
    assert report.removed == []
    assert [str(error) for error in report.errors] == [
        f"{directory}: cannot read the persona directory: No such file or directory"
    ]
    assert registry.get("sara").name == "Sara"


async def test_reloads_log_at_info_and_errors_at_warning_once(
    personas: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="situations")
    path = write(personas, "sara.yaml", MINIMAL)
    registry = PersonaRegistry(personas)
    await registry.load()
    path.write_text(BROKEN, encoding="utf-8")
    await registry.load()
    await registry.load()  # nothing changed: nothing logged again
    path.unlink()
    await registry.load()
    version = hashlib.sha256(MINIMAL.encode()).hexdigest()[:12]
    assert [(record.levelname, record.getMessage()) for record in caplog.records] == [
        ("INFO", f"persona 'sara' loaded from personas/sara.yaml ({version})"),
        ("WARNING", "personas/sara.yaml:3: temperature: must be <= 2"),
        (
            "WARNING",
            f"persona 'sara': keeping version {version} until personas/sara.yaml is fixed",
        ),
        ("INFO", "persona 'sara' removed: its file is gone"),
    ]
