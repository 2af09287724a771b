"""What the long-running commands (`run`, `serve`) share: their log level and their stop signal."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

from bot.config import Settings
from bot.services.logs import use_log_format

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


# HTTP client libraries log every request at INFO; one line per model call is noise in a service.
CHATTY_LOGGERS = ("httpx", "httpx2", "httpcore")


def service_logging(args: argparse.Namespace, settings: Settings) -> None:
    """Services log at SESSIONBOT_LOG_LEVEL unless -v/-vv asked for more, as text or JSON
    (SESSIONBOT_LOG_FORMAT), never showing a secret setting's value."""
    use_log_format(settings.log_format, settings.secrets())
    if args.verbose == 0:
        logging.getLogger().setLevel(settings.log_level_number)
    if args.verbose < 2:
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[asyncio.Event]:
    """An event set by Ctrl-C or SIGTERM while the block runs, for a clean shutdown."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    try:
        yield stop
    finally:
        for signum in STOP_SIGNALS:
            with contextlib.suppress(RuntimeError):
                loop.remove_signal_handler(signum)
