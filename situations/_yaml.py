"""YAML parsing for persona files: data plus the node tree that knows each key's line."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["Document", "DuplicateKey", "YamlProblem", "duplicate_keys", "format_path", "parse"]

_MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_VALUES = 100_000
"""The most values a persona file may hold, counting each use of an alias in full."""

# (words in PyYAML's problem, our reason, report at the context mark rather than the problem)
_QUOTE_IT = "put the value in quotes"
_REASONS: tuple[tuple[str, str, bool], ...] = (
    ("mapping values are not allowed", f"unexpected ':' ({_QUOTE_IT})", False),
    ("character '\\t' that cannot", "tab character (indent with spaces, not tabs)", False),
    ("could not find expected ':'", "expected 'key: value' (is a ':' missing?)", True),
    (
        "but found '<scalar>'",
        f"unexpected text after a quoted or bracketed value ({_QUOTE_IT})",
        False,
    ),
    ("expected <block end>", "indentation does not line up with the lines above", False),
    ("another document", "only one document is allowed (remove the '---' line)", False),
    ("unhashable key", f"a value starting with '{{' is read as a mapping ({_QUOTE_IT})", False),
)
_CANNOT_START = re.compile(r"found character '(.+)' that cannot start any token")


# problems that mean a quote or bracket opened at the context mark was never closed
_UNCLOSED = ("end of stream", "<stream end>", "expected ',' or ']'", "expected ',' or '}'")


class YamlProblem(Exception):
    """The text is not valid YAML; ``line`` is 1-based."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}")


@dataclass(frozen=True)
class Document:
    """A parsed file: the composed root node (None when empty) and the constructed data."""

    root: Node | None
    data: Any


@dataclass(frozen=True)
class DuplicateKey:
    path: str
    line: int
    first_line: int


class _Loader(yaml.SafeLoader):
    """SafeLoader whose bad scalar values ('2024-13-45') become errors with a line."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (yaml.YAMLError, RecursionError):
            raise
        except Exception as exc:  # PyYAML's constructors fail in many ways on odd scalars
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid value: {exc}", node.start_mark
            ) from exc


def parse(text: str) -> Document:
    """Compose and construct one YAML document; raise YamlProblem with a line and reason."""
    try:
        loader = _Loader(text)  # the reader checks for forbidden characters here
    except yaml.reader.ReaderError as exc:
        raise YamlProblem(_line_at(text, exc.position), _reader_reason(exc)) from exc
    try:
        root = loader.get_single_node()
        if root is not None and _expanded_size(root, {}) > MAX_VALUES:
            raise YamlProblem(1, f"more than {MAX_VALUES} values once the aliases (*name) expand")
        data = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        raise _marked_problem(exc) from exc
    except yaml.reader.ReaderError as exc:
        raise YamlProblem(_line_at(text, exc.position), _reader_reason(exc)) from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(1, " ".join(str(exc).split())) from exc
    except RecursionError as exc:
        raise YamlProblem(1, "nesting is too deep") from exc
    finally:
        loader.dispose()
    return Document(root, data)


def _line_at(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _reader_reason(exc: yaml.reader.ReaderError) -> str:
    return f"YAML syntax error: character #x{exc.character:04x} is not allowed"


def _expanded_size(node: Node, sizes: dict[int, int]) -> int:
    """How many nodes the tree holds with every alias expanded (a cycle counts once)."""
    if id(node) in sizes:
        return sizes[id(node)]
    sizes[id(node)] = 1  # provisional, so that a recursive alias stops here
    children: list[Node] = []
    if isinstance(node, SequenceNode):
        children = list(node.value)
    elif isinstance(node, MappingNode):
        children = [part for pair in node.value for part in pair]
    total = 1
    for child in children:
        total += _expanded_size(child, sizes)
        if total > MAX_VALUES:
            break
    sizes[id(node)] = total
    return total


def _marked_problem(exc: yaml.MarkedYAMLError) -> YamlProblem:
    problem = exc.problem or exc.context or "invalid YAML"
    mark = exc.problem_mark or exc.context_mark
    reason = None
    for words, friendly, at_context in _REASONS:
        if words in problem:
            reason = friendly
            if at_context and exc.context_mark is not None:
                mark = exc.context_mark
            break
    cannot_start = _CANNOT_START.search(problem)
    if reason is None and cannot_start:
        reason = f"a value cannot start with '{cannot_start.group(1)}' ({_QUOTE_IT})"
    if reason is None and any(words in problem for words in _UNCLOSED):
        reason = _unclosed(exc.context or "")
        mark = exc.context_mark or mark
    if reason is None:
        reason = problem
    line = 1 if mark is None else mark.line + 1
    return YamlProblem(line, f"YAML syntax error: {reason}")


def _unclosed(context: str) -> str:
    if "quoted scalar" in context:
        return "a quote is opened here and never closed"
    if "flow sequence" in context:
        return "a '[' is opened here and never closed"
    if "flow mapping" in context:
        return "a '{' is opened here and never closed"
    return "the file ends in the middle of a value"


def format_path(parts: Sequence[str | int]) -> str:
    """('example_dialogue', 1, 'user') -> 'example_dialogue[1].user'."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def line_of(root: Node, parts: Sequence[str | int]) -> int:
    """The 1-based line of the deepest key (or list item) along ``parts`` found in the tree."""
    node = root
    line = root.start_mark.line + 1
    for part in parts:
        if isinstance(node, MappingNode):
            pair = _find_key(node, str(part))
            if pair is None:
                break
            key, node = pair
            line = key.start_mark.line + 1
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _find_key(node: MappingNode, name: str) -> tuple[Node, Node] | None:
    found: tuple[Node, Node] | None = None
    for key, value in node.value:  # the last one wins, as it does for PyYAML
        if isinstance(key, ScalarNode) and key.value == name and key.tag != _MERGE_TAG:
            found = (key, value)
    if found is not None:
        return found
    for merged in _merged_mappings(node):
        found = _find_key(merged, name)
        if found is not None:
            return found
    return None


def _merged_mappings(node: MappingNode) -> Iterator[MappingNode]:
    for key, value in node.value:
        if key.tag != _MERGE_TAG:
            continue
        sources = value.value if isinstance(value, SequenceNode) else [value]
        yield from (source for source in sources if isinstance(source, MappingNode))


def duplicate_keys(root: Node) -> list[DuplicateKey]:
    """Every key set twice in the same mapping (PyYAML silently keeps the last one)."""
    found: list[DuplicateKey] = []
    pending: list[tuple[Node, tuple[str | int, ...]]] = [(root, ())]
    seen: set[int] = set()
    while pending:
        node, path = pending.pop()
        if id(node) in seen:  # aliases share nodes; visit each once
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            pending.extend((item, (*path, index)) for index, item in enumerate(node.value))
        elif isinstance(node, MappingNode):
            found.extend(_duplicates_in(node, path))
            pending.extend(
                (value, (*path, key.value))
                for key, value in node.value
                if isinstance(key, ScalarNode)
            )
    return sorted(found, key=lambda duplicate: duplicate.line)


def _duplicates_in(node: MappingNode, path: tuple[str | int, ...]) -> Iterator[DuplicateKey]:
    first_lines: dict[tuple[str, str], int] = {}
    for key, _ in node.value:
        if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
            continue
        line = key.start_mark.line + 1
        first = first_lines.get((key.tag, key.value))
        if first is None:
            first_lines[(key.tag, key.value)] = line
        else:
            yield DuplicateKey(format_path((*path, key.value)), line, first)
