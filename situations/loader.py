"""Load persona YAML files into AgentProfile, with one readable line per problem."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, SequenceNode

from situations._yaml import YamlProblem, duplicate_keys, format_path, line_of, parse
from situations.avatar import avatar_problem
from situations.errors import PersonaError, PersonaLoadError, TemplateError
from situations.models import LOADER_FIELDS, AgentProfile
from situations.render import check_template
from situations.renderer import TemplateRenderer
from situations.template_fields import template_field_errors

__all__ = [
    "PersonaLoadError",
    "check_directory",
    "load_profile",
    "parse_profile",
    "persona_files",
    "profile_version",
    "read_persona",
]

PERSONA_SUFFIXES = (".yaml", ".yml")
_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def persona_files(directory: Path) -> list[Path]:
    """The persona files in ``directory`` (``*.yaml``, ``*.yml``; not hidden), sorted by name.

    Raises OSError if the directory cannot be listed.
    """
    return sorted(
        path
        for path in directory.iterdir()
        if path.suffix in PERSONA_SUFFIXES and not path.name.startswith(".") and path.is_file()
    )


def profile_version(data: bytes) -> str:
    """The version of a persona file: the first 12 hex digits of the sha256 of its bytes."""
    return hashlib.sha256(data).hexdigest()[:12]


def read_persona(path: Path) -> bytes:
    """The bytes of a persona file, following symbolic links only within its directory.

    Raises PersonaLoadError for a link to a file outside the directory, OSError if the file
    cannot be read.
    """
    target = path.resolve()
    if not target.is_relative_to(path.parent.resolve()):
        reason = (
            f"is a symbolic link to {target}, outside the persona directory; "
            "move or copy the file into the directory instead"
        )
        raise PersonaLoadError([PersonaError(path, None, None, reason)])
    return target.read_bytes()


def load_profile(path: Path, renderer: TemplateRenderer | None = None) -> AgentProfile:
    """Read and validate one persona file; raise PersonaLoadError listing every problem.

    ``renderer`` test-renders a template situation (a temporary one if None).
    """
    try:
        data = read_persona(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise PersonaLoadError([PersonaError(path, None, None, f"cannot read: {reason}")]) from exc
    return parse_profile(data, path, renderer)


def check_directory(
    directory: Path, renderer: TemplateRenderer | None = None
) -> tuple[list[AgentProfile], list[PersonaError]]:
    """Load every persona file in ``directory``; one bad file never stops the others."""
    try:
        paths = persona_files(directory)
    except OSError as exc:
        reason = f"cannot read the persona directory: {exc.strerror or exc}"
        return [], [PersonaError(directory, None, None, reason)]
    profiles: dict[str, AgentProfile] = {}
    errors: list[PersonaError] = []
    with contextlib.ExitStack() as stack:
        if renderer is None:
            renderer = stack.enter_context(TemplateRenderer())
        for path in paths:
            _load_into(path, renderer, profiles, errors)
    return list(profiles.values()), errors


def _load_into(
    path: Path,
    renderer: TemplateRenderer,
    profiles: dict[str, AgentProfile],
    errors: list[PersonaError],
) -> None:
    try:
        profile = load_profile(path, renderer)
    except PersonaLoadError as exc:
        errors.extend(exc.errors)
        return
    if profile.id in profiles:
        errors.append(duplicate_id_error(path, profiles[profile.id].source))
    else:
        profiles[profile.id] = profile


def duplicate_id_error(path: Path, first: Path) -> PersonaError:
    """The error for a second file with the same stem (``sara.yaml`` and ``sara.yml``)."""
    reason = f"persona id {path.stem!r} is already defined by {first}; rename or remove one"
    return PersonaError(path, None, None, reason)


def parse_profile(
    data: bytes, path: Path, renderer: TemplateRenderer | None = None
) -> AgentProfile:
    """Validate the bytes of a persona file; ``path`` names it in errors and gives the id.

    A template situation is test-rendered with sample values by ``renderer`` (a temporary
    one if None): one that goes over a limit is an error.
    """
    errors = _id_errors(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise PersonaLoadError([*errors, PersonaError(path, line, None, "not UTF-8 text")]) from exc
    try:
        document = parse(text)
    except YamlProblem as exc:
        raise PersonaLoadError([*errors, PersonaError(path, exc.line, None, exc.reason)]) from exc
    root = document.root
    if root is None or not isinstance(root, MappingNode) or not isinstance(document.data, dict):
        raise PersonaLoadError([*errors, _not_a_mapping(path, root)])
    errors.extend(
        PersonaError(
            path, dup.line, dup.path, f"duplicate key (first set on line {dup.first_line})"
        )
        for dup in duplicate_keys(root)
    )
    fields = dict(document.data)
    for name in sorted(LOADER_FIELDS & fields.keys(), key=lambda n: line_of(root, [n])):
        errors.append(PersonaError(path, line_of(root, [name]), name, _loader_field_reason(name)))
        del fields[name]
    profile = _validate(fields, data, path, root, errors)
    if errors or profile is None:
        raise PersonaLoadError(sorted(errors, key=lambda error: error.line or 0))
    _check_situation_template(profile, root, renderer)
    _check_text_templates(profile, root)
    if (problem := avatar_problem(profile, line_of(root, ["avatar"]))) is not None:
        raise PersonaLoadError([problem])
    return profile


def _id_errors(path: Path) -> list[PersonaError]:
    if _ID_PATTERN.fullmatch(path.stem):
        return []
    suggestion = re.sub(r"[^a-z0-9_-]+", "-", path.stem.lower()).strip("-_")[:64] or "persona"
    reason = (
        f"{path.stem!r} is not a valid persona id; name the file with lowercase letters, "
        f"digits, '-' and '_' (e.g. '{suggestion}{path.suffix}')"
    )
    return [PersonaError(path, None, "id", reason)]


def _not_a_mapping(path: Path, root: Node | None) -> PersonaError:
    if root is None:
        return PersonaError(path, 1, None, "the file is empty; expected fields like 'name:'")
    kind = "a list" if isinstance(root, SequenceNode) else "a single value"
    reason = f"expected a mapping of fields (name: ..., situation: ...), got {kind}"
    return PersonaError(path, root.start_mark.line + 1, None, reason)


def _loader_field_reason(name: str) -> str:
    if name == "id":
        return "the id comes from the file name; remove this line"
    return "is set by sessionbot when the file is loaded; remove this line"


def _validate(
    fields: dict[Any, Any], data: bytes, path: Path, root: Node, errors: list[PersonaError]
) -> AgentProfile | None:
    loader_values = {"id": path.stem, "version": profile_version(data), "source": path}
    try:
        return AgentProfile.model_validate({**fields, **loader_values})
    except ValidationError as exc:
        errors.extend(_translate(path, root, error) for error in exc.errors())
        return None


def _check_situation_template(
    profile: AgentProfile, root: Node, renderer: TemplateRenderer | None
) -> None:
    if not profile.render_templates:
        return
    try:
        check_template(profile)
        if renderer is None:
            with TemplateRenderer() as temporary:
                temporary.check_limits(profile)
        else:
            renderer.check_limits(profile)
    except TemplateError as exc:
        where = "" if exc.template_line is None else f"template line {exc.template_line}: "
        line = line_of(root, ["situation"])
        error = PersonaError(profile.source, line, "situation", f"{where}{exc.reason}")
        raise PersonaLoadError([error]) from exc


def _check_text_templates(profile: AgentProfile, root: Node) -> None:
    """The greeting, examples, lore and the like are templates too when the situation is."""
    errors = [
        PersonaError(
            profile.source,
            line_of(root, where),
            format_path(where),
            ("" if exc.template_line is None else f"template line {exc.template_line}: ")
            + exc.reason,
        )
        for where, exc in template_field_errors(profile)
    ]
    if errors:
        raise PersonaLoadError(errors)


def _translate(path: Path, root: Node, error: ErrorDetails) -> PersonaError:
    parts = _clean_loc(error["loc"])
    if error["type"] == "invalid_key":  # the key itself, e.g. 1, is not a list index
        parts = [*parts[:-1], str(parts[-1])]
    field = format_path(parts) or None
    return PersonaError(path, line_of(root, parts), field, _reason(error, parts))


_JSON_FIELDS = ("metadata", "card", "extra")
"""Fields holding arbitrary JSON, where pydantic tags each step of a location."""


def _clean_loc(loc: Sequence[str | int]) -> list[str | int]:
    """Drop the 'list'/'dict' tags pydantic puts into locations inside JSON values."""
    parts = list(loc)
    start = next((i for i, part in enumerate(parts) if part in _JSON_FIELDS), None)
    if start is not None and len(parts) > start + 2:
        return [*parts[: start + 2], *parts[start + 3 :: 2]]
    return parts


def _reason(error: ErrorDetails, parts: Sequence[str | int]) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    got = f"got {_describe(error['input'])}"
    if kind in _SIMPLE_REASONS:
        return _SIMPLE_REASONS[kind].format(got=got) + _quote_hint(kind, error["input"])
    if kind in _BOUNDS:
        operator, bound = _BOUNDS[kind]
        return f"must be {operator} {_number(ctx[bound])}"
    if kind == "extra_forbidden":
        return _unknown_field(parts)
    if kind == "literal_error":
        return f"must be {ctx['expected']}, {got}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    message = str(error["msg"])
    return message[:1].lower() + message[1:]


_SIMPLE_REASONS = {
    "missing": "is required",
    "string_type": "must be text, {got}",
    "float_type": "must be a number, {got}",
    "float_parsing": "must be a number, {got}",
    "int_type": "must be a whole number, {got}",
    "int_parsing": "must be a whole number, {got}",
    "int_from_float": "must be a whole number, {got}",
    "bool_type": "must be true or false, {got}",
    "bool_parsing": "must be true or false, {got}",
    "list_type": "must be a list, {got}",
    "dict_type": "must be a mapping, {got}",
    "model_type": "must be a mapping of fields, {got}",
    "model_attributes_type": "must be a mapping of fields, {got}",
    "invalid_key": "field names must be text, {got}",
    "invalid-json-value": "must be text, a number, true/false, null, a list or a mapping, {got}",
    "recursion_loop": "must not contain itself (a YAML anchor refers to itself)",
}
_BOUNDS = {
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
}


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _describe(value: object) -> str:
    """A short, YAML-flavoured description of a value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, date):  # YAML reads 2024-05-01 as a date
        return f"a date ({value.isoformat()})"
    return f"a {type(value).__name__} ({value})"


def _quote_hint(kind: str, value: object) -> str:
    """YAML turned what may have been meant as text into a number, boolean or date."""
    if kind in ("string_type", "invalid-json-value") and isinstance(value, int | float | date):
        return " (put it in quotes)"
    return ""


def _unknown_field(parts: Sequence[str | int]) -> str:
    name = str(parts[-1])
    known = _known_fields(parts[:-1])
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"unknown field {name!r} (did you mean {close[0]!r}?)"
    return f"unknown field {name!r} (known fields: {', '.join(known)})"


def _known_fields(parts: Sequence[str | int]) -> list[str]:
    model: type[BaseModel] | None = AgentProfile
    for part in parts:
        if model is None:
            break
        if isinstance(part, str):
            field = model.model_fields.get(part)
            model = None if field is None else _model_in(field.annotation)
    if model is None:
        return []
    return [name for name in model.model_fields if name not in LOADER_FIELDS]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        model = _model_in(argument)
        if model is not None:
            return model
    return None
