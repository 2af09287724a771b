"""SESSIONBOT_LOG_FORMAT=json: one JSON object per log line, secrets blanked out."""

from __future__ import annotations

import json
import logging
import signal

import httpx

from bot.services.logs import JsonFormatter, RedactingFormatter
from tests.bot.services.test_serve import TOKEN, start

SECRET = "sk-never-in-a-log-line"


def record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("bot.test", logging.ERROR, __file__, 1, message, args, exc_info)


def test_json_lines_carry_time_level_logger_message_and_the_traceback() -> None:
    try:
        raise RuntimeError(f"boom with {SECRET}")
    except RuntimeError as exc:
        line = JsonFormatter([SECRET]).format(record("failed for %s", SECRET, exc=exc))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "bot.test"
    assert entry["message"] == "failed for ***"
    assert entry["time"].endswith("+00:00")
    assert "RuntimeError: boom with ***" in entry["exc_info"]
    assert SECRET not in line


def test_text_lines_blank_secrets_too() -> None:
    assert (
        RedactingFormatter([SECRET]).format(record("key %s", SECRET)) == "ERROR bot.test: key ***"
    )


def test_serve_logs_json_line_by_line(shipped_env: dict[str, str]) -> None:
    env = {**shipped_env, "SESSIONBOT_API_TOKEN": TOKEN, "SESSIONBOT_LOG_FORMAT": "json"}
    server = start(env, "--port", "0")
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    status, output = server.stop(signal.SIGTERM)
    assert status == 0, output
    plain = ("serving the HTTP API on ", "stopped")  # the command's own lines, not logs
    logged = [line for line in output.splitlines() if not line.startswith(plain)]
    assert logged, output
    entries = [json.loads(line) for line in logged]
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any(entry["message"].startswith("HTTP API listening on") for entry in entries)
    assert TOKEN not in output
