"""Argument types and checks shared by the CLI's commands."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from bot.cli.output import CommandError
from storage.errors import InvalidValue
from storage.limits import check_json, check_text

_META_HINT = "e.g. --meta db_uuid=1234, or --meta n:=3 for a JSON value"


def session_id(value: str) -> UUID:
    """argparse type: a session id."""
    try:
        return UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a session id (a UUID)") from None


def parse_meta(items: Iterable[str]) -> dict[str, Any]:
    """`--meta` values as metadata: `KEY=VALUE` is a string, `KEY:=JSON` a JSON value.

    Anything the store could not keep (bad JSON, too deep, a 30-digit number, text that is not
    valid Unicode) is a CommandError of one line, before anything is opened or written.
    """
    metadata = dict(_meta_item(item) for item in items)
    try:
        check_json(metadata, field="--meta")
    except InvalidValue as exc:
        raise CommandError(exc.problem, hint=_META_HINT, status=2) from None
    return metadata


def _meta_item(item: str) -> tuple[str, Any]:
    key, sep, value = item.partition("=")
    if not sep or not key.rstrip(":"):
        raise CommandError(
            f"--meta {item!r} is not KEY=VALUE (or KEY:=JSON)", hint=_META_HINT, status=2
        )
    if not key.endswith(":"):
        return key, value
    try:
        return key[:-1], json.loads(value)
    except RecursionError:
        problem = "is nested too deeply"
    except ValueError as exc:  # JSONDecodeError, or a number with thousands of digits
        problem = f"is not JSON ({getattr(exc, 'msg', exc)})"
    raise CommandError(f"--meta {key[:-1]!r}: the value after ':=' {problem}", status=2)


def check_arguments(values: Iterable[tuple[str, str | None]]) -> None:
    """CommandError unless every (option, value) given is valid Unicode text."""
    for option, value in values:
        if value is None:
            continue
        try:
            check_text(value, field=option)
        except InvalidValue as exc:
            raise CommandError(f"{option} {exc.problem}", status=2) from None


def add_meta_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "--meta",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help=help_text + " (repeatable; KEY:=JSON for numbers, booleans, objects)",
    )
