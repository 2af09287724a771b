"""`sessionbot usage`: messages, replies and tokens per server, persona and person."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.args import check_arguments
from bot.cli.output import CommandError, out, out_json, table
from bot.config import Settings
from bot.engine.usage import MAX_DAYS, NO_SCOPE, Totals, UsageReport, usage_query, usage_report
from bot.runtime import open_store
from storage.models import utc_now

DISCORD = "discord:"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "usage",
        help="messages, replies and tokens per server, persona and person",
        description=(
            "Add up what is stored over the last days: messages people wrote, replies the "
            "personas gave, and the tokens of both. A person's row counts their messages and "
            "the replies that answered them."
        ),
    )
    parser.add_argument("--guild", metavar="ID", help="only this Discord server (its id)")
    parser.add_argument("--persona", metavar="ID", help="only sessions on this persona")
    parser.add_argument(
        "--days", type=int, default=7, help=f"how many days back (1 to {MAX_DAYS}, default 7)"
    )
    parser.add_argument("--json", action="store_true", help="JSON instead of tables")
    parser.set_defaults(handler=show_usage)


async def show_usage(args: argparse.Namespace, settings: Settings) -> int:
    check_arguments([("--guild", args.guild), ("--persona", args.persona)])
    if not 1 <= args.days <= MAX_DAYS:
        raise CommandError(f"--days must be from 1 to {MAX_DAYS}", status=2)
    if args.guild is not None and not args.guild.isdigit():
        raise CommandError(
            f"--guild {args.guild!r} is not a server id", hint="copy it from Discord", status=2
        )
    prefix = f"{DISCORD}{args.guild}:" if args.guild is not None else None
    query = usage_query(utc_now(), args.days, key_prefix=prefix, agent_id=args.persona)
    async with open_store(settings) as store:
        report = usage_report(await store.usage(query), query, args.days)
    if args.json:
        out_json(as_json(report, args))
    else:
        show_tables(report)
    return 0


def server_of(scope: str) -> str:
    """A scope as people know it: a Discord server's id, `dm`, or the scope itself."""
    if scope.startswith(DISCORD):
        return scope.removeprefix(DISCORD).rstrip(":")
    return scope


def as_json(report: UsageReport, args: argparse.Namespace) -> dict[str, Any]:
    def rows(name: str, items: dict[str, Totals], label: Any = str) -> list[dict[str, Any]]:
        return [{name: label(key), **totals.as_dict()} for key, totals in items.items()]

    return {
        "since": report.since.isoformat(),
        "days": report.days,
        "guild": args.guild,
        "persona": args.persona,
        "total": report.total.as_dict(),
        "servers": rows("server", report.scopes, lambda s: None if s == NO_SCOPE else server_of(s)),
        "personas": rows("persona", report.personas),
        "people": rows("person", report.people),
    }


def show_tables(report: UsageReport) -> None:
    total = report.total
    out(
        f"last {report.days} day(s) since {report.since:%Y-%m-%d %H:%M} UTC: "
        f"{total.messages} messages, {total.replies} replies, {total.tokens} tokens"
    )
    for title, items in (
        ("server", {server_of(k): v for k, v in report.scopes.items()}),
        ("persona", report.personas),
        ("person", report.people),
    ):
        out()
        cells = [[key, str(t.messages), str(t.replies), str(t.tokens)] for key, t in items.items()]
        table(cells, [title, "messages", "replies", "tokens"])
