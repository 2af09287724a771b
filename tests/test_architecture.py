"""The dependency rules of the layout, checked on the source so that a stray import fails CI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module `path` imports (absolute imports only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def sources(*parts: str) -> list[Path]:
    target = REPO.joinpath(*parts)
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


@pytest.mark.parametrize("package", ["storage", "situations"])
def test_core_packages_import_no_front_end(package: str) -> None:
    for path in sources(package):
        forbidden = imported_modules(path) & {"bot", "discord", "openai", "aiohttp"}
        assert not forbidden, f"{path.relative_to(REPO)} imports {sorted(forbidden)}"


@pytest.mark.parametrize(
    "module",
    ["engine.py", "context.py", "chatmodel.py", "locks.py", "tokens.py", "config.py", "runtime.py"],
)
def test_engine_side_never_imports_discord(module: str) -> None:
    assert "discord" not in imported_modules(REPO / "bot" / module)


def test_only_bot_llm_imports_openai() -> None:
    importers = {
        str(path.relative_to(REPO))
        for package in ("bot", "situations", "storage")
        for path in sources(package)
        if "openai" in imported_modules(path)
    }
    assert importers == {"bot/llm.py"}


def test_the_rule_checker_sees_imports() -> None:
    sample = REPO / "bot" / "llm.py"
    assert "openai" in imported_modules(sample)  # the checker itself can fail
