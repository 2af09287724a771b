"""`sessionbot db copy SRC DST`: every session, message, tag and binding from one database
into another (SQLite and PostgreSQL either way), verified by counts and a checksum."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from tqdm import tqdm

from bot.cli.output import CommandError, out
from bot.config import Settings
from bot.runtime import open_location
from storage import DatabaseLocation, parse_location
from storage.copying import copy_store
from storage.errors import UnsupportedDatabase


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "db",
        help="database tools (copy between SQLite and PostgreSQL)",
        description="Tools that work on whole databases.",
    )
    tools = parser.add_subparsers(dest="db_command", required=True, metavar="TOOL")
    copy = tools.add_parser(
        "copy",
        help="copy every session and message into an empty database",
        description=(
            "Copy every session, message, tag, binding and refusal from SRC into DST, keeping "
            "ids, timestamps, reply links and statuses, in batches with a progress bar. DST must "
            "be empty, or hold an interrupted copy from SRC, which is resumed. Counts and a "
            "checksum of both sides are compared at the end; the exit status is 0 only when "
            "they match. Each of SRC and DST is a SQLite file path (or sqlite:///path) or a "
            "postgresql://USER:PASS@HOST:PORT/DB URL."
        ),
    )
    copy.add_argument("source", metavar="SRC", help="the database to copy from")
    copy.add_argument("destination", metavar="DST", help="the database to copy into")
    copy.set_defaults(handler=copy_database)


def _location(text: str, name: str) -> DatabaseLocation:
    try:
        return parse_location(text)
    except UnsupportedDatabase as exc:
        raise CommandError(f"{name}: {exc}", status=2) from None


async def copy_database(args: argparse.Namespace, settings: Settings) -> int:
    source = _location(args.source, "SRC")
    destination = _location(args.destination, "DST")
    if source == destination:
        raise CommandError("SRC and DST are the same database", status=2)
    if source.kind == "sqlite" and not await asyncio.to_thread(Path(source.target).is_file):
        raise CommandError(f"SRC: {source} does not exist", hint="check the path", status=2)
    async with (
        open_location(source, "SRC") as reader,
        open_location(destination, "DST") as writer,
    ):
        totals = await reader.copy_totals()
        with tqdm(
            total=totals.sessions + totals.messages + totals.side_rows, unit="row", desc="copying",
            file=sys.stderr, mininterval=0.5,
        ) as bar:  # fmt: skip
            report = await copy_store(reader, writer, bar.update)
    counts = (
        f"{report.destination.sessions} session(s), {report.destination.messages} message(s), "
        f"{report.destination.refused} refusal(s)"
    )
    if not report.matches:
        raise CommandError(
            f"the copy in {destination} does not match {source}: source has "
            f"{report.source.sessions} session(s), {report.source.messages} message(s), "
            f"{report.source.refused} refusal(s), checksum {report.source_checksum[:12]}; "
            f"destination has {counts}, checksum {report.destination_checksum[:12]}",
            hint="was either database written to during the copy? copy into a new database",
        )
    resumed = f" (resumed after session {report.resumed_after})" if report.resumed_after else ""
    out(
        f"copied {counts} from {source} to {destination}{resumed}; "
        f"counts and checksum match (sha256 {report.source_checksum[:12]})"
    )
    return 0
