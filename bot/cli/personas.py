"""`sessionbot personas ...`: list, check, show, describe, import and export persona files."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from bot.cli import persona_cards
from bot.cli.output import CommandError, err, out, out_json, shorten, table
from bot.config import Settings
from bot.runtime import load_personas
from situations import AgentProfile, PersonaNotFound, check_directory, profile_json_schema


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "personas",
        help="list, check, show, import and export persona files",
        description="Persona profiles.",
    )
    sub = parser.add_subparsers(dest="personas_command", required=True, metavar="COMMAND")
    listing = sub.add_parser("list", help="list the loaded personas")
    listing.set_defaults(handler=list_personas)
    check = sub.add_parser(
        "check",
        help="validate persona files; print every error as file:line and exit 1 if any",
    )
    check.add_argument(
        "directory", nargs="?", type=Path, help="directory to check (default: SESSIONBOT_PERSONAS)"
    )
    check.set_defaults(handler=check_personas)
    show = sub.add_parser("show", help="show one persona as loaded")
    show.add_argument("persona", metavar="ID", help="persona id (its file name without .yaml)")
    show.add_argument(
        "--json", action="store_true", help="print the loaded persona's fields as one JSON object"
    )
    show.set_defaults(handler=show_persona)
    schema = sub.add_parser(
        "schema", help="print the JSON Schema of persona files (for YAML editors)"
    )
    schema.set_defaults(handler=print_schema)
    persona_cards.add_parsers(sub)


async def list_personas(args: argparse.Namespace, settings: Settings) -> int:
    registry = await load_personas(settings)
    rows = [
        [p.id, p.name, p.model or f"({settings.model or 'default'})", p.version, _about(p)]
        for p in registry.all()
    ]
    if rows:
        table(rows, ["ID", "NAME", "MODEL", "VERSION", "DESCRIPTION"])
    else:
        err(f"no personas in {settings.personas}")
    if registry.errors:
        err(f"{len(registry.errors)} error(s); see: sessionbot personas check")
    return 0


def _about(profile: AgentProfile) -> str:
    return shorten(profile.description or profile.situation, 60)


async def check_personas(args: argparse.Namespace, settings: Settings) -> int:
    directory: Path = args.directory or settings.personas
    if not await asyncio.to_thread(directory.is_dir):
        raise CommandError(
            f"{directory} is not a directory",
            hint="pass the personas directory, or set SESSIONBOT_PERSONAS",
            status=2,
        )
    profiles, errors = await asyncio.to_thread(check_directory, directory)
    for error in errors:
        out(str(error))
    files = len({error.path for error in errors})
    summary = f"{len(profiles)} persona(s) ok, {len(errors)} error(s) in {files} file(s)"
    err(summary)
    return 1 if errors else 0


async def show_persona(args: argparse.Namespace, settings: Settings) -> int:
    registry = await load_personas(settings)
    try:
        profile = registry.get(args.persona)
    except PersonaNotFound as exc:
        raise CommandError(str(exc), hint="list them with: sessionbot personas list") from None
    if args.json:
        out_json(profile.model_dump(mode="json"))
    else:
        out_profile(profile)
    return 0


def out_profile(profile: AgentProfile) -> None:
    out(f"id:          {profile.id}")
    out(f"name:        {profile.name}")
    out(f"file:        {profile.source} (version {profile.version})")
    if profile.description:
        out(f"description: {profile.description}")
    out(f"model:       {profile.model or '(SESSIONBOT_MODEL)'}")
    out(f"temperature: {_or_default(profile.temperature)}")
    out(f"max_tokens:  {_or_default(profile.max_tokens)}")
    context = profile.context
    out(
        f"context:     last {context.max_messages} messages, {context.token_budget} tokens, "
        f"overflow {context.overflow}"
    )
    out(f"templates:   {'rendered' if profile.render_templates else 'off'}")
    if profile.tags:
        out(f"tags:        {', '.join(profile.tags)}")
    if profile.metadata:
        out(f"metadata:    {json.dumps(profile.metadata, ensure_ascii=False)}")
    if profile.greeting:
        out(f"greeting:    {profile.greeting}")
    out(f"examples:    {len(profile.example_dialogue)} exchange(s)")
    if profile.lore is not None:
        out(f"lore:        {len(profile.lore.entries)} entries")
    out("situation:")
    for line in profile.situation.splitlines():
        out(f"  {line}")


def _or_default(value: object) -> str:
    return "(server default)" if value is None else str(value)


async def print_schema(args: argparse.Namespace, settings: Settings) -> int:
    out(json.dumps(profile_json_schema(), indent=2))
    return 0
