"""Argument types shared by the CLI's commands."""

from __future__ import annotations

import argparse
import json
from typing import Any
from uuid import UUID


def session_id(value: str) -> UUID:
    """argparse type: a session id."""
    try:
        return UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a session id (a UUID)") from None


def meta_item(item: str) -> tuple[str, Any]:
    """argparse type: `KEY=VALUE` is a string value, `KEY:=JSON` a JSON one (numbers, booleans)."""
    key, sep, value = item.partition("=")
    if not sep or not key.rstrip(":"):
        raise argparse.ArgumentTypeError(
            f"{item!r} is not KEY=VALUE (or KEY:=JSON), e.g. --meta db_uuid=1234"
        )
    if not key.endswith(":"):
        return key, value
    try:
        return key[:-1], json.loads(value)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"{item!r}: the value after ':=' is not JSON ({exc.msg})"
        ) from None


def add_meta_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "--meta",
        metavar="KEY=VALUE",
        type=meta_item,
        action="append",
        default=[],
        help=help_text + " (repeatable; KEY:=JSON for numbers, booleans, objects)",
    )
