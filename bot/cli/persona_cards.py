"""`sessionbot personas import` and `export`: character cards in and out of persona files."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.cli.output import CommandError, err, out
from bot.config import Settings
from bot.runtime import load_personas
from situations import PersonaNotFound
from situations.cards import (
    MAX_CARD_BYTES,
    CardError,
    CardExists,
    Imported,
    export_card,
    import_card,
)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imports = sub.add_parser(
        "import",
        help="make persona files from character cards (V1/V2/V3 JSON, PNG, .charx)",
        description=(
            "Write <id>.yaml for each card (and its image beside it); print each path written. "
            "A card that cannot be imported is reported on its own line and written nowhere."
        ),
    )
    imports.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="card files")
    imports.add_argument(
        "--dir", type=Path, help="where to write the personas (default: SESSIONBOT_PERSONAS)"
    )
    imports.add_argument(
        "--id",
        dest="persona_id",
        metavar="ID",
        help="persona id (default: from the card's name); one card only",
    )
    imports.add_argument("--force", action="store_true", help="overwrite existing files")
    imports.set_defaults(handler=import_cards)
    export = sub.add_parser(
        "export",
        help="write a persona as a V3 character card (PNG or JSON)",
        description="The PNG holds a 'ccv3' chunk and a V2 'chara' chunk for older readers.",
    )
    export.add_argument("persona", metavar="ID", help="persona id")
    export.add_argument(
        "--format", choices=("png", "json"), default="png", help="card format (default: png)"
    )
    export.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="file to write (default: <id>.<format> here)",
    )
    export.set_defaults(handler=export_persona)


async def import_cards(args: argparse.Namespace, settings: Settings) -> int:
    directory: Path = args.dir or settings.personas
    if args.persona_id is not None and len(args.paths) > 1:
        raise CommandError(
            "--id names one persona, but several cards were given",
            hint="import the cards one at a time with --id, or leave it out",
            status=2,
        )
    failed = 0
    for path in args.paths:
        try:
            imported = await asyncio.to_thread(
                _import_file, path, directory, args.persona_id, args.force
            )
        except CardExists as exc:
            err(f"{path}: {exc.path} already exists; pass --force to overwrite it")
            failed += 1
        except CardError as exc:
            err(f"{path}: {exc.reason}")
            failed += 1
        else:
            out(str(imported.path))
    return 1 if failed else 0


def _import_file(path: Path, directory: Path, persona_id: str | None, force: bool) -> Imported:
    try:
        if path.stat().st_size > MAX_CARD_BYTES:
            raise CardError(f"the file is larger than {MAX_CARD_BYTES // (1024 * 1024)} MiB")
        data = path.read_bytes()
    except OSError as exc:
        raise CardError(f"cannot read: {exc.strerror or exc}") from None
    return import_card(data, directory, persona_id=persona_id, force=force)


async def export_persona(args: argparse.Namespace, settings: Settings) -> int:
    registry = await load_personas(settings)
    try:
        profile = registry.get(args.persona)
    except PersonaNotFound as exc:
        raise CommandError(str(exc), hint="list them with: sessionbot personas list") from None
    target: Path = args.output or Path(f"{profile.id}.{args.format}")
    data = await asyncio.to_thread(export_card, profile, args.format)
    try:
        await asyncio.to_thread(target.write_bytes, data)
    except OSError as exc:
        raise CommandError(f"cannot write {target}: {exc.strerror or exc}") from None
    out(str(target))
    return 0
