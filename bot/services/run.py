"""`sessionbot run`: the Discord bot, on the same engine and store as every other front end."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
from typing import TYPE_CHECKING

from bot.cli.output import CommandError, err
from bot.config import LOGIN_REFUSED_ADVICE, MESSAGE_CONTENT_ADVICE, Settings
from bot.engine import Engine
from bot.metrics import GatewayStatus, Metrics
from bot.runtime import open_engine
from bot.services.heap import settle_heap
from bot.services.signals import service_logging, stop_on_signals

if TYPE_CHECKING:
    import discord

    from bot.discord_app.bot import CommandSyncFailed

log = logging.getLogger(__name__)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "run",
        help="run the Discord bot",
        description=(
            "Connect to Discord with DISCORD_TOKEN, sync the slash commands and answer in every "
            "channel, thread and DM with a session until Ctrl-C or SIGTERM. Persona files are "
            "reloaded when they change. With SESSIONBOT_API_PORT set, the HTTP API is served "
            "from the same process. See README.md, 'Discord bot'."
        ),
    )
    parser.set_defaults(handler=run_bot)


async def run_bot(args: argparse.Namespace, settings: Settings) -> int:
    from bot.discord_app.bot import make_bot  # discord is slow to import; only this needs it

    token = settings.discord_secret()  # fail before opening anything
    if settings.api_port is not None:
        settings.api_secret()  # the HTTP API is served too: it needs its token
    service_logging(args, settings)
    metrics = Metrics()
    try:
        with stop_on_signals() as stop:
            async with (
                open_engine(settings, events=metrics) as engine,
                contextlib.AsyncExitStack() as stack,
            ):
                bot = make_bot(settings=settings, engine=engine, http_trace=metrics.rest_trace())
                metrics.gateway = lambda: gateway_status(bot)
                if settings.api_port is not None:
                    await _serve_api(stack, engine, settings, metrics)
                settle_heap()
                async with bot:
                    await _run_until(bot, token, stop)
    except Exception as exc:
        failure = startup_failure(exc, settings)
        if failure is None:
            raise
        raise failure from None
    err("stopped")
    return 0


def startup_failure(exc: Exception, settings: Settings) -> CommandError | None:
    """The one line (and hint) for a failure to connect to Discord; None if it is not one."""
    import aiohttp
    import discord

    from bot.discord_app.bot import CommandSyncFailed

    if isinstance(exc, discord.LoginFailure):
        return CommandError(
            "Discord refused DISCORD_TOKEN",
            hint=LOGIN_REFUSED_ADVICE,
            status=2,
        )
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return CommandError(
            "Discord refused the Message Content intent",
            hint=MESSAGE_CONTENT_ADVICE,
            status=2,
        )
    if isinstance(exc, CommandSyncFailed):
        return _sync_failure(exc)
    if isinstance(exc, discord.HTTPException):
        return CommandError(
            f"Discord refused a start-up request ({exc.status}: {exc.text or exc})",
            hint="check DISCORD_API_BASE (a Discord-compatible server, or unset for Discord)",
            status=2,
        )
    if isinstance(exc, aiohttp.ClientError | OSError):
        return CommandError(
            f"cannot reach Discord at {settings.discord_api_base}: {exc}",
            hint="check DISCORD_API_BASE (and DISCORD_GATEWAY_URL) and the network",
            status=2,
        )
    return None


def _sync_failure(exc: CommandSyncFailed) -> CommandError:
    """Which hint fits a refused command sync: the definitions, or the dev guild."""
    detail = f"({exc.status}: {exc.text})"
    if exc.status == 400:  # the schema itself: no setting of ours can fix it
        return CommandError(
            f"Discord refused the slash command definitions {detail}",
            hint="this is a sessionbot bug or a Discord API change, not a setting; "
            "please report it with the error text",
            status=2,
        )
    if exc.guild_id is not None and exc.status in (403, 404):
        return CommandError(
            f"Discord refused the slash commands for SESSIONBOT_DEV_GUILD {exc.guild_id} {detail}",
            hint="check SESSIONBOT_DEV_GUILD: the id of a server the bot has joined "
            "(invited with the applications.commands scope), or unset it",
            status=2,
        )
    return CommandError(
        f"Discord refused the slash commands {detail}",
        hint="check that the bot was invited with the applications.commands scope, "
        "and DISCORD_API_BASE",
        status=2,
    )


def gateway_status(bot: discord.Client) -> GatewayStatus:
    """Whether the bot's gateway connection is up, and its heartbeat's round trip."""
    latency = bot.latency  # NaN or inf until the first heartbeat is answered
    known = math.isfinite(latency)
    connected = bot.is_ready() and not bot.is_closed() and known
    return GatewayStatus(connected=connected, latency=latency if known else None)


async def _serve_api(
    stack: contextlib.AsyncExitStack, engine: Engine, settings: Settings, metrics: Metrics
) -> None:
    """With SESSIONBOT_API_PORT set, serve the HTTP API from the same process and store."""
    from bot.api import serving  # aiohttp is slow to import; only needed with the API on

    try:
        bound = await stack.enter_async_context(serving(engine, settings, metrics=metrics))
    except OSError as exc:
        raise CommandError(
            f"cannot serve the HTTP API on port {settings.api_port}: {exc.strerror or exc}",
            hint="choose another SESSIONBOT_API_PORT, or unset it to run the bot alone",
        ) from None
    err(f"serving the HTTP API on {bound.url}")


async def _run_until(bot: discord.Client, token: str, stop: asyncio.Event) -> None:
    """Run the bot until `stop` is set (a signal) or the connection ends for good."""
    running = asyncio.create_task(bot.start(token), name="discord-bot")
    stopping = asyncio.create_task(stop.wait(), name="stop-signal")
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not running.done():
            log.info("stopping the bot")
            await bot.close()
        await running  # re-raises a login or connection failure
