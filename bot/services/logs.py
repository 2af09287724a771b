"""How the services' log lines look: text (the default) or one JSON object per line
(SESSIONBOT_LOG_FORMAT=json), with every configured secret blanked out either way."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

__all__ = ["JsonFormatter", "RedactingFormatter", "use_log_format"]

TEXT_FORMAT: Final = "%(levelname)s %(name)s: %(message)s"
_BLANK: Final = "***"


class RedactingFormatter(logging.Formatter):
    """A formatter that replaces each of `secrets` with *** in the finished line."""

    def __init__(self, secrets: Iterable[str] = (), fmt: str | None = TEXT_FORMAT) -> None:
        super().__init__(fmt)
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _BLANK)
        return text

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(RedactingFormatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, exc_info."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exc_info"] = self.redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exc_info"] = self.redact(record.exc_text)
        if record.stack_info:
            entry["stack_info"] = self.redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False)


def use_log_format(log_format: str, secrets: Iterable[str]) -> None:
    """Give every handler of the root logger the chosen format, with `secrets` blanked."""
    kept = list(secrets)
    formatter: logging.Formatter = (
        JsonFormatter(kept) if log_format == "json" else RedactingFormatter(kept)
    )
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
