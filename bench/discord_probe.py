"""The bot process's side of the Discord benchmark: driving the fakes process, and clocks.

`FakesProcess` starts bench/fakes_server.py and sends it commands. `Clocks` notes, inside the
bot process, when each MESSAGE_CREATE frame reached the gateway reader and when the bot
finished answering that message (the reply shown in full and stored), by wrapping three points
of the running bot from outside: the gateway's frame handler, the MESSAGE_CREATE parser and the
reply job. Nothing in the bot is changed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from discord.gateway import DiscordWebSocket

from bot.discord_app.bot import SessionBot
from bot.discord_app.replies import ReplyJob

SERVER = Path(__file__).resolve().parent / "fakes_server.py"


class FakesProcess:
    """bench/fakes_server.py in a child process, and its commands."""

    def __init__(self, process: asyncio.subprocess.Process, addresses: dict[str, str]) -> None:
        self.process = process
        self.addresses = addresses

    @classmethod
    async def start(cls) -> FakesProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SERVER),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**24,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if not line:
            raise RuntimeError("the fakes process exited before it was ready")
        return cls(process, json.loads(line))

    def tell(self, **command: Any) -> None:
        """Send a command that has no answer."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")

    async def ask(self, **command: Any) -> dict[str, Any]:
        """Send a command and wait for its answer."""
        self.tell(**command)
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 120)
        if not line:
            raise RuntimeError("the fakes process exited")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


class Clocks:
    """When each user message's frame arrived and when its reply was done (perf_counter s)."""

    def __init__(self) -> None:
        self.frame_started = 0.0
        self.arrived: dict[str, float] = {}
        self.channel_of: dict[str, int] = {}
        self.answered: dict[str, float] = {}
        self.done: asyncio.Queue[str] = asyncio.Queue()
        self._original_frame: Any = None

    def latencies_ms(self, ids: list[str]) -> list[float]:
        return [(self.answered[i] - self.arrived[i]) * 1000 for i in ids]

    def attach(self, bot: SessionBot) -> None:
        """Wrap the frame handler, the MESSAGE_CREATE parser and the reply job of `bot`."""
        clocks = self
        original_frame = DiscordWebSocket.received_message
        self._original_frame = original_frame

        async def received_message(ws: DiscordWebSocket, msg: Any, /) -> None:
            clocks.frame_started = time.perf_counter()
            await original_frame(ws, msg)

        DiscordWebSocket.received_message = received_message  # type: ignore[method-assign]
        parsers = bot._connection.parsers
        parse_create = parsers["MESSAGE_CREATE"]

        def message_create(data: dict[str, Any]) -> None:
            clocks.arrived[data["id"]] = clocks.frame_started
            clocks.channel_of[data["id"]] = int(data["channel_id"])
            parse_create(data)

        parsers["MESSAGE_CREATE"] = message_create
        reply: Callable[[ReplyJob], Awaitable[None]] = bot.replies._reply

        async def timed_reply(job: ReplyJob) -> None:
            await reply(job)
            external = job.stored.external_id or ""
            clocks.answered[external] = time.perf_counter()
            clocks.done.put_nowait(external)

        bot.replies._reply = timed_reply  # type: ignore[method-assign]

    def detach(self) -> None:
        if self._original_frame is not None:
            DiscordWebSocket.received_message = self._original_frame  # type: ignore[method-assign]
