"""`sessionbot sessions export` streams: a long session exports in bounded memory."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from tests.helpers import REPO

CEILING_KIB = 110 * 1024  # the whole export held in memory would need several times 40 MB


def bench_export() -> ModuleType:
    path = REPO / "bench" / "bench_export.py"
    spec = importlib.util.spec_from_file_location("bench_export", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_20000_message_export_stays_under_the_memory_ceiling(tmp_path: Path) -> None:
    bench = bench_export()
    database = tmp_path / "long.db"
    session_id = bench.fill_session(database, 20_000, 2048)
    for fmt in ("json", "md"):
        output = tmp_path / f"export.{fmt}"
        status, peak = bench.export_peak(database, session_id, fmt, output)
        assert status == 0
        assert peak < CEILING_KIB, f"{fmt}: peak RSS {peak // 1024} MB"
        assert output.stat().st_size > 20_000 * 2048
    document = json.loads((tmp_path / "export.json").read_text(encoding="utf-8"))
    assert len(document["messages"]) == 20_000
    assert document["messages"][-1]["content"].startswith("00020000lorem")
