"""The sandbox situations render in: Jinja's immutable sandbox, with size limits on values and
output, and one-line descriptions of everything that can go wrong inside a template.

Pure Jinja (no persona model), so the render worker process can use it alone.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import jinja2
from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, _PassArg, generate_lorem_ipsum

from situations.limits import (
    FILTER_ESTIMATES,
    GLOBAL_ESTIMATES,
    MAX_ITEMS,
    MAX_OUTPUT,
    METHOD_ESTIMATES,
    TemplateLimit,
    check_binop,
    check_size,
    estimate,
)

__all__ = [
    "TEMPLATE_FILENAME",
    "BoundedSandbox",
    "decode_namespace",
    "describe",
    "encode_request",
    "is_straight",
    "render_bounded",
]

TEMPLATE_FILENAME = "<template>"


class _CheckedConcat(CodeGenerator):
    """Compiles ``a ~ b`` so that its result is size-checked like every other operation."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked(")
        super().visit_Concat(node, frame)
        self.write(")")


class _BoundedNamespace(Namespace):
    """``namespace()``, whose attributes cannot hold values over the size limit."""

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, check_size(value))


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_ITEMS:
        raise TemplateLimit(
            f"range() would have {len(numbers):,} items (the limit is {MAX_ITEMS:,})"
        )
    return numbers


def _bounded_ipsum(*args: Any, **kwargs: Any) -> str:
    estimate(GLOBAL_ESTIMATES, "lipsum", args, kwargs)
    return generate_lorem_ipsum(*args, **kwargs)


def _checked_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """The filter, with its result checked and, for those that can explode, its arguments."""
    skip = 0 if _PassArg.from_obj(function) is None else 1  # the context Jinja passes first

    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        estimate(FILTER_ESTIMATES, name, args[skip:], kwargs)
        return check_size(function(*args, **kwargs))

    return checked


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, strict about undefined names, that keeps values small."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _CheckedConcat

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        self.globals.update(
            range=_bounded_range, lipsum=_bounded_ipsum, namespace=_BoundedNamespace
        )
        self.filters = {name: _checked_filter(name, f) for name, f in self.filters.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return check_size(super().call_binop(context, operator, left, right))

    def call(
        __self,  # Jinja's signature: the names must not clash with the keywords passed on
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        method = getattr(__obj, "__wrapped__", __obj)  # str.format comes wrapped
        owner = getattr(method, "__self__", None)
        if isinstance(owner, str):
            estimate(METHOD_ESTIMATES, getattr(method, "__name__", ""), (owner, *args), kwargs)
        return check_size(super().call(__context, __obj, *args, **kwargs))

    def checked(self, value: Any) -> Any:
        """Used by compiled templates for the result of ``~``."""
        return check_size(value)


# Straight-line templates: no loops, calls, macros, assignments or multiplying operators, and
# only filters whose result is about as long as their input. Rendering one takes time linear in
# the size of the template and its variables, so it needs no time limit.
_STRAIGHT_NODES = (
    nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name, nodes.Getattr, nodes.Getitem,
    nodes.Slice, nodes.If, nodes.CondExpr, nodes.Compare, nodes.Operand, nodes.And, nodes.Or,
    nodes.Not, nodes.Neg, nodes.Pos, nodes.Concat, nodes.Test, nodes.Filter, nodes.Keyword,
    nodes.List, nodes.Tuple, nodes.Dict, nodes.Pair, nodes.Add, nodes.Sub, nodes.Div,
    nodes.FloorDiv,
)  # fmt: skip
_STRAIGHT_FILTERS = frozenset(
    {
        "abs", "capitalize", "count", "d", "default", "first", "float", "int", "last",
        "length", "lower", "round", "string", "title", "trim", "truncate", "upper", "wordcount",
    }
)  # fmt: skip


def is_straight(tree: nodes.Template) -> bool:
    """True if the template has none of the constructs whose cost can grow without bound."""
    return all(
        type(node) in _STRAIGHT_NODES
        and (not isinstance(node, nodes.Filter) or node.name in _STRAIGHT_FILTERS)
        for node in tree.find_all(nodes.Node)
    )


def render_bounded(template: jinja2.Template, namespace: Mapping[str, Any]) -> str:
    """Render, stopping as soon as the text is longer than MAX_OUTPUT characters."""
    return _joined(template.generate(namespace))


def _joined(chunks: Iterable[str]) -> str:
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise TemplateLimit(
                f"the rendered text is longer than {MAX_OUTPUT:,} characters (the limit)"
            )
        parts.append(chunk)
    return "".join(parts)


def encode_request(source: str, namespace: dict[str, Any]) -> bytes:
    """One request line; ``now`` travels as ISO 8601. TypeError if a value is not JSON."""
    values = {**namespace, "now": namespace["now"].isoformat()}
    line = json.dumps({"source": source, "namespace": values}, ensure_ascii=False)
    return line.encode() + b"\n"


def decode_namespace(values: dict[str, Any]) -> dict[str, Any]:
    return {**values, "now": datetime.fromisoformat(values["now"])}


def describe(exc: BaseException) -> tuple[str, int | None]:
    """A failure inside a template as one line, and the template line it happened on."""
    line = _template_line(exc.__traceback__)
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return _syntax_reason(exc), exc.lineno
    if isinstance(exc, TemplateLimit):
        return _one_line(str(exc)), line
    if isinstance(exc, SecurityError):
        return f"refused by the sandbox: {_one_line(str(exc))}", line
    if isinstance(exc, jinja2.TemplateError):
        return _one_line(str(exc)), line
    return _one_line(f"{type(exc).__name__}: {exc}"), line  # a failing filter or operation


def _template_line(traceback: TracebackType | None) -> int | None:
    """The template line of the innermost frame that belongs to the template, if any."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == TEMPLATE_FILENAME:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def _one_line(text: str) -> str:
    return " ".join(text.split()).rstrip(".")


def _syntax_reason(exc: jinja2.TemplateSyntaxError) -> str:
    reason = _one_line(exc.message or str(exc))
    return reason[:1].lower() + reason[1:]
