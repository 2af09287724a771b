"""The `sessionbot` command: the terminal commands and the services, behind one parser."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from bot.cli import chat, db, doctor, personas, sessions, usage
from bot.cli.output import CommandError, err
from bot.config import ConfigError, Settings, load_settings
from bot.engine.errors import SessionbotError
from bot.services import run, serve
from storage.errors import StorageError

Handler = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sessionbot",
        description="AI persona sessions for Discord and the terminal.",
        epilog="Configuration comes from the environment and ./.env; see README.md.",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chat.add_parser(commands)
    personas.add_parser(commands)
    sessions.add_parser(commands)
    usage.add_parser(commands)
    run.add_parser(commands)
    serve.add_parser(commands)
    doctor.add_parser(commands)
    db.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        err(f"sessionbot: error: {exc}")
        return 2
    _setup_logging(args.verbose)
    handler: Handler = args.handler
    try:
        return asyncio.run(handler(args, settings))
    except CommandError as exc:
        err(f"sessionbot: error: {exc}")
        if exc.hint:
            err(f"hint: {exc.hint}")
        return exc.status
    except ConfigError as exc:
        err(f"sessionbot: error: {exc}")
        return 2
    except (SessionbotError, StorageError) as exc:
        err(f"sessionbot: error: {exc}")
        return 1
    except KeyboardInterrupt:
        err("interrupted")
        return 130


def _setup_logging(verbose: int) -> None:
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


if __name__ == "__main__":
    sys.exit(main())
