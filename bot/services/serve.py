"""`sessionbot serve`: the Julep-compatible HTTP API on the engine and store."""

from __future__ import annotations

import argparse
import errno
import logging

from bot.cli.output import CommandError, err
from bot.config import DEFAULT_API_PORT, Settings
from bot.metrics import Metrics
from bot.runtime import open_engine
from bot.services.heap import settle_heap
from bot.services.signals import service_logging, stop_on_signals

log = logging.getLogger(__name__)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve the Julep-compatible HTTP API",
        description=(
            "Serve the Julep v1 sessions API (create, list, read, chat with and end sessions) "
            "until Ctrl-C. Every request needs 'Authorization: Bearer $SESSIONBOT_API_TOKEN'."
        ),
    )
    parser.add_argument(
        "--host",
        help="address to listen on (default: SESSIONBOT_API_HOST, or 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        help=f"port to listen on; 0 picks a free one (default: SESSIONBOT_API_PORT, or "
        f"{DEFAULT_API_PORT})",
    )
    parser.set_defaults(handler=run_serve)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return value


async def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.api import serving  # aiohttp is slow to import; only this command needs it

    settings.api_secret()  # refuse to start without a token, before opening anything
    service_logging(args, settings)
    metrics = Metrics()
    with stop_on_signals() as stop:
        async with open_engine(settings, events=metrics) as engine:
            try:
                async with serving(
                    engine, settings, host=args.host, port=args.port, metrics=metrics
                ) as bound:
                    err(f"serving the HTTP API on {bound.url} (Ctrl-C to stop)")
                    settle_heap()
                    await stop.wait()
            except OSError as exc:
                raise _listen_error(exc, args, settings) from None
    err("stopped")
    return 0


def _listen_error(exc: OSError, args: argparse.Namespace, settings: Settings) -> CommandError:
    host = args.host or settings.api_host
    port = args.port if args.port is not None else (settings.api_port or DEFAULT_API_PORT)
    reason = "the port is in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
    return CommandError(
        f"cannot listen on {host}:{port}: {reason}",
        hint="choose another with --port or SESSIONBOT_API_PORT",
    )
