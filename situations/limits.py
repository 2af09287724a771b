"""The limits of situation templates, and the cheap checks that keep values within them.

A template may loop, call macros and build strings, so its cost has no natural bound. Two
layers keep it bounded. Inside the sandbox, the operations that can make a value explode
(``*``, ``**``, ``+``, ``%``, ``~``, ``range``, padding and joining methods and filters) are
checked before they run, which gives a precise message. Around it, the renderer (see
`situations.renderer`) stops a render that takes too long, needs too much memory or writes
too much text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

__all__ = [
    "FILTER_ESTIMATES",
    "GLOBAL_ESTIMATES",
    "MAX_ITEMS",
    "MAX_OUTPUT",
    "MEMORY_BYTES",
    "METHOD_ESTIMATES",
    "RENDER_SECONDS",
    "TemplateLimit",
    "check_binop",
    "check_size",
    "estimate",
    "too_slow",
]

RENDER_SECONDS: Final = 1.0
"""The longest one render of a situation may take."""
MAX_OUTPUT: Final = 64 * 1024
"""The longest rendered situation, in characters."""
MAX_ITEMS: Final = 64 * 1024
"""The longest string, list or range a template may build, in characters or items."""
MAX_INT_BITS: Final = 64 * 1024
"""The largest integer a template may compute, in bits (about 19,700 decimal digits)."""
MEMORY_BYTES: Final = 256 * 1024 * 1024
"""The address space of the process that renders templates with loops, calls or macros."""


class TemplateLimit(Exception):
    """A template went over one of the limits; the message says which, in words."""


def too_slow(seconds: float) -> str:
    """The reason given for a render stopped at the time limit."""
    return f"took longer than {seconds:g} s to render (the limit); look for a runaway loop or macro"


def _items(count: int) -> str:
    return f"{count:,} characters or items (the limit is {MAX_ITEMS:,})"


def check_size(value: Any) -> Any:
    """Return ``value``, or raise TemplateLimit if it is a string or list over MAX_ITEMS."""
    if isinstance(value, str | list | tuple | bytes) and len(value) > MAX_ITEMS:
        raise TemplateLimit(f"made a value of {_items(len(value))}")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimit(f"made {_bits(value.bit_length())}")
    return value


def _bits(bits: int) -> str:
    return f"a number of {bits:,} bits (the limit is {MAX_INT_BITS:,})"


def _refuse_over(size: int, what: str) -> None:
    if size > MAX_ITEMS:
        raise TemplateLimit(f"{what} would make a value of {_items(size)}")


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``left <operator> right`` before it runs if its result would be over a limit."""
    if operator == "*":
        _check_repeat(left, right)
        _check_repeat(right, left)
        if _is_int(left) and _is_int(right):
            bits = left.bit_length() + right.bit_length()
            if bits > MAX_INT_BITS:
                raise TemplateLimit(f"'*' would make {_bits(bits)}")
    elif operator == "**" and _is_int(left) and _is_int(right) and right > 0:
        bits = right * max(abs(left).bit_length() - 1, 0)
        if bits > MAX_INT_BITS:
            raise TemplateLimit(f"'**' would make {_bits(bits)}")
    elif operator == "+" and isinstance(left, Sequence) and isinstance(right, Sequence):
        _refuse_over(len(left) + len(right), "'+'")
    elif operator == "%" and isinstance(left, str):
        _check_percent_format(left, right)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_repeat(sequence: Any, times: Any) -> None:
    if isinstance(sequence, str | list | tuple) and _is_int(times):
        _refuse_over(len(sequence) * max(times, 0), "'*'")


_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\d+|\*)?(?:\.(\d+|\*))?")
_BRACE_FIELD = re.compile(r"\{[^{}]*\}")
_NUMBER = re.compile(r"\d+")


def _check_percent_format(text: str, values: Any) -> None:
    """``'%999999999d' % 1`` pads to the width before anything else can look at it."""
    numbers = [int(n) for field in _PERCENT_FIELD.findall(text) for n in field if n.isdigit()]
    if "*" in text:
        arguments = values if isinstance(values, tuple) else (values,)
        numbers += [value for value in arguments if _is_int(value)]
    _refuse_over(max(numbers, default=0), "a width in '%' formatting")


def _check_brace_format(text: str) -> int:
    """``'{:>999999999}'.format(1)`` pads to the width before anything can look at it."""
    fields = _BRACE_FIELD.findall(text)
    return max((int(n) for field in fields for n in _NUMBER.findall(field)), default=0)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _arg(
    args: Sequence[Any], kwargs: Mapping[str, Any], index: int, name: str, default: Any
) -> Any:
    """Argument ``index`` (or keyword ``name``) of a call, as the callee will see it."""
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


def _int(value: Any) -> int:
    return value if _is_int(value) else 0


def _replaced(args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    text, old = _text(_arg(args, kwargs, 0, "s", "")), _text(_arg(args, kwargs, 1, "old", ""))
    new, count = _text(_arg(args, kwargs, 2, "new", "")), _arg(args, kwargs, 3, "count", -1)
    found = text.count(old) if old else len(text) + 1
    if _is_int(count) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


def _padded(args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    return _int(_arg(args, kwargs, 1, "width", 80))


def _indented(args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    text, width = _text(_arg(args, kwargs, 0, "s", "")), _arg(args, kwargs, 1, "width", 4)
    step = width if _is_int(width) else len(_text(width))
    return len(text) + (text.count("\n") + 1) * max(step, 0)


def _wrapped(args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    text, width = _text(_arg(args, kwargs, 0, "s", "")), _arg(args, kwargs, 1, "width", 79)
    wrapstring = _arg(args, kwargs, 3, "wrapstring", None) or "\n"
    lines = len(text) // max(_int(width), 1) + text.count(" ") + 1
    return len(text) + lines * len(_text(wrapstring))


def _joined(items: Any, separator: Any) -> int:
    count = len(items) if isinstance(items, str | list | tuple | dict | range) else 0
    return max(count - 1, 0) * len(_text(separator))


def _tabs(args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    text = _text(_arg(args, kwargs, 0, "s", ""))
    return len(text) + text.count("\t") * _int(_arg(args, kwargs, 1, "tabsize", 8))


def _formatted(args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    _check_percent_format(_text(args[0]) if args else "", tuple(args[1:]) or dict(kwargs))
    return 0


def _ipsum(args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    """``lipsum(n, html, min, max)`` writes up to n * max words."""
    return _int(_arg(args, kwargs, 0, "n", 5)) * _int(_arg(args, kwargs, 3, "max", 100)) * 12


Estimate = Callable[[Sequence[Any], Mapping[str, Any]], int]

# How long a filter's result can be, from its arguments (the value first).
FILTER_ESTIMATES: Final[Mapping[str, Estimate]] = {
    "replace": _replaced,
    "center": _padded,
    "indent": _indented,
    "wordwrap": _wrapped,
    "join": lambda args, kwargs: _joined(
        _arg(args, kwargs, 0, "value", ()), _arg(args, kwargs, 1, "d", "")
    ),
    "batch": lambda args, kwargs: _int(_arg(args, kwargs, 1, "linecount", 0)),
    "slice": lambda args, kwargs: _int(_arg(args, kwargs, 1, "slices", 0)),
    "format": _formatted,
}
# The same for methods of strings: the string is the first argument.
METHOD_ESTIMATES: Final[Mapping[str, Estimate]] = {
    "replace": _replaced,
    "center": _padded,
    "ljust": _padded,
    "rjust": _padded,
    "zfill": _padded,
    "expandtabs": _tabs,
    "join": lambda args, kwargs: _joined(_arg(args, kwargs, 1, "iterable", ()), args[0]),
    "format": lambda args, kwargs: _check_brace_format(_text(args[0])),
    "format_map": lambda args, kwargs: _check_brace_format(_text(args[0])),
}
GLOBAL_ESTIMATES: Final[Mapping[str, Estimate]] = {"lipsum": _ipsum}


def estimate(
    table: Mapping[str, Estimate], name: str, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> None:
    """Refuse a call of ``name`` (a filter, method or global in ``table``) whose result would
    be over MAX_ITEMS, before it runs."""
    rule = table.get(name)
    if rule is not None:
        _refuse_over(rule(args, kwargs), f"{name}()")
