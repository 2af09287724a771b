"""What the store can keep faithfully: the checks every value passes before it is written.

Front ends may call these too, to refuse a request before doing any work; the store calls them
again as the last line of defence. Both walk without recursion, so no input is too deep to check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from .errors import InvalidMetadata, InvalidText

__all__ = [
    "MAX_INT",
    "MAX_JSON_DEPTH",
    "MIN_INT",
    "check_json",
    "check_optional_text",
    "check_text",
    "check_texts",
    "copy_json",
    "json_depth",
]

MAX_JSON_DEPTH: Final = 32
"""Objects and arrays nest at most this deep (the value itself is level 1)."""
MIN_INT: Final = -(2**63)
MAX_INT: Final = 2**63 - 1
"""SQLite's integer range; JSON integers outside it would come back changed or not at all."""


def check_text(value: str, *, field: str) -> None:
    """InvalidText unless `value` is valid Unicode (no unpaired surrogate such as "\\ud800")."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidText(
            field,
            f"contains an unpaired surrogate (U+{ord(value[exc.start]):04X}) at character "
            f"{exc.start}, which is not valid Unicode",
        ) from None


def check_optional_text(value: str | None, *, field: str) -> None:
    if value is not None:
        check_text(value, field=field)


def check_texts(values: Mapping[str, str | None]) -> None:
    """check_text for each field name -> value (None values are skipped)."""
    for field, value in values.items():
        check_optional_text(value, field=field)


def check_json(value: Any, *, field: str) -> None:
    """InvalidMetadata unless `value` is plain JSON the store keeps as is.

    Plain JSON: dicts with string keys, lists/tuples, str, int within the signed 64-bit range,
    finite floats, bool and None; at most MAX_JSON_DEPTH levels; all text valid Unicode, no NUL.
    """
    pending: list[tuple[Any, str, int]] = [(value, field, 1)]
    while pending:
        item, where, depth = pending.pop()
        if isinstance(item, Mapping | list | tuple):
            if depth > MAX_JSON_DEPTH:
                raise InvalidMetadata(f"{where} is nested deeper than {MAX_JSON_DEPTH} levels")
            pending.extend(_children(item, where, depth))
        else:
            _check_scalar(item, where)


def _children(
    item: Mapping[Any, Any] | list[Any] | tuple[Any, ...], where: str, depth: int
) -> list[tuple[Any, str, int]]:
    if not isinstance(item, Mapping):
        return [(child, f"{where}[{index}]", depth + 1) for index, child in enumerate(item)]
    children = []
    for key, child in item.items():
        if not isinstance(key, str):
            raise InvalidMetadata(f"{where} has a non-string key {key!r}")
        _check_string(key, f"a key in {where}")
        children.append((child, f"{where}[{key!r}]", depth + 1))
    return children


def _check_scalar(item: Any, where: str) -> None:
    if item is None or isinstance(item, bool):
        return
    if isinstance(item, int):
        if not MIN_INT <= item <= MAX_INT:
            raise InvalidMetadata(
                f"{where} is an integer outside the signed 64-bit range (-2**63 to 2**63-1)"
            )
    elif isinstance(item, float):
        if not math.isfinite(item):
            raise InvalidMetadata(f"{where} is {item}, which JSON cannot hold")
    elif isinstance(item, str):
        _check_string(item, where)
    else:
        raise InvalidMetadata(f"{where} is a {type(item).__name__}, which is not JSON")


def _check_string(text: str, where: str) -> None:
    if "\x00" in text:
        raise InvalidMetadata(f"{where} contains a NUL character")
    try:
        check_text(text, field=where)
    except InvalidText as exc:
        raise InvalidMetadata(f"{where} {exc.problem}") from None


def json_depth(value: Any) -> int:
    """How deeply objects and arrays nest in `value` (0 for a scalar), without recursion."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, Mapping):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list | tuple):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in item)
    return deepest


def copy_json(value: Any) -> Any:
    """A copy of nested dicts and lists (other values shared), without recursion."""
    root: list[Any] = [None]
    pending: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while pending:
        item, parent, slot = pending.pop()
        copied: Any = item
        if isinstance(item, dict):
            copied = dict.fromkeys(item)
            pending.extend((child, copied, key) for key, child in item.items())
        elif isinstance(item, list):
            copied = [None] * len(item)
            pending.extend((child, copied, index) for index, child in enumerate(item))
        parent[slot] = copied
    return root[0]
