"""The fake Discord and the fake model of the Discord benchmark, in a process of their own.

Started by bench/bench_discord.py (``python bench/fakes_server.py``), so that the bot process's
CPU time is the bot's alone, as in the floor benchmark. It serves tests.fakes' `FakeDiscord`
(REST + gateway) and `FakeOpenAI` on 127.0.0.1, prints one JSON line with their addresses,
then reads one JSON command per line on stdin. Commands that answer print one JSON line:

  {"op": "world", "channels": N, "authors": N}   -> {"guild", "channels", "authors"}
  {"op": "ready"}                                -> {} once the bot has identified and synced
  {"op": "queue", "n": N}                        -> {} after queueing N replies of CHUNKS chunks
  {"op": "send", "channel": C, "author": A, "text": T}      (no answer: one user message)
  {"op": "burst", "channels": [...], "authors": [...], "rounds": R}
                                                 -> {"sent": {channel: [message ids]}}
  {"op": "sent", "channels": [...]}              -> {"sent": {channel: [user message ids]}}
  {"op": "cpu"}                                  -> {"cpu": this process's CPU seconds}
  {"op": "shown", "channels": [...]}             -> {"replies": {channel: [reply_to ids]}}
  {"op": "pace", "first": S, "gap": S}           -> {} model streams: S before the first
                                                    chunk, then S between chunks (0, 0 at start)
  {"op": "command", "name": "session list", "options": {...}, "channel": C, "author": A}
                                                 -> {"ms", "ok"} when the bot has answered in
                                                    full (answered from a task: stdin is read on)

The process ends when stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

CHUNKS = 60  # chunks per streamed reply, as in the floor benchmark
WORDS = ("The", "answer", "depends", "on", "your", "routine", "but", "a", "dim", "room", "helps")
REPLY_CHUNKS = [("" if n == 0 else " ") + WORDS[n % len(WORDS)] for n in range(CHUNKS)]


class Fakes:
    """Both fakes and the commands the benchmark gives them."""

    def __init__(self, discord: FakeDiscord, llm: FakeOpenAI) -> None:
        self.discord, self.llm = discord, llm
        self.guild = 0
        self.sent: dict[str, list[str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def send(self, channel: int, author: int, text: str) -> str:
        """One user message; its id is noted for the "sent" command."""
        payload = await self.discord.send_message(channel, author, text)
        self.sent.setdefault(str(channel), []).append(payload["id"])
        return str(payload["id"])

    async def handle(self, command: dict[str, Any]) -> dict[str, Any] | None:
        op = command["op"]
        if op == "send":
            await self.send(command["channel"], command["author"], command["text"])
            return None
        if op == "cpu":
            return {"cpu": time.process_time()}
        if op == "world":
            return self.world(command["channels"], command["authors"])
        if op == "ready":
            await self.discord.wait_ready(timeout=30)
            await self.discord.wait_until(lambda: bool(self.discord.command_syncs), 30)
            return {}
        if op == "queue":
            for _ in range(command["n"]):
                self.llm.queue_reply(REPLY_CHUNKS)
            return {}
        if op == "burst":
            return await self.burst(command["channels"], command["authors"], command["rounds"])
        if op == "sent":
            return {"sent": {str(c): self.sent.get(str(c), []) for c in command["channels"]}}
        if op == "shown":
            return {"replies": self.shown(command["channels"])}
        if op == "pace":
            self.llm.first_chunk_delay, self.llm.chunk_delay = command["first"], command["gap"]
            return {}
        if op == "command":
            task = asyncio.create_task(self.command(command))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return None
        raise ValueError(f"unknown command {op!r}")

    def world(self, channels: int, authors: int) -> dict[str, Any]:
        self.guild = self.discord.add_guild("Bench Server")
        add_channel = self.discord.add_channel
        return {
            "guild": self.guild,
            "channels": [add_channel(self.guild, f"room-{n}") for n in range(channels)],
            "authors": [
                self.discord.add_user(f"user{n}", guilds=[self.guild]) for n in range(authors)
            ],
        }

    async def burst(self, channels: list[int], authors: list[int], rounds: int) -> dict[str, Any]:
        """`rounds` messages in every channel, sent back to back, round by round."""
        sent: dict[str, list[str]] = {str(channel): [] for channel in channels}
        for round_ in range(rounds):
            for number, channel in enumerate(channels):
                author = authors[number % len(authors)]
                sent[str(channel)].append(await self.send(channel, author, f"c{channel} m{round_}"))
        return {"sent": sent}

    def shown(self, channels: list[int]) -> dict[str, list[str]]:
        """For each channel, the ids of the user messages the bot's messages there reply to, in
        order (one pass over the bot's messages, however many channels).

        A persona speaking through a webhook cannot reply (Discord drops the reference), so
        a webhook message is matched by position: the n-th webhook message in a channel
        answers the n-th message sent there. That still shows a lost or an extra reply; the
        order is checked on the stored side."""
        replies: dict[int, list[str]] = defaultdict(list)
        for message in self.discord.sent_messages():
            if message.reply_to is not None:
                replies[message.channel_id].append(str(message.reply_to))
        spoken: dict[int, int] = defaultdict(int)
        for hooked in sorted(self.discord.webhooks.sent(), key=lambda m: m.id):
            asked = self.sent.get(str(hooked.channel_id), [])
            position = spoken[hooked.channel_id]
            spoken[hooked.channel_id] += 1
            replies[hooked.channel_id].append(asked[position] if position < len(asked) else "")
        return {str(channel): replies.get(channel, []) for channel in channels}

    async def command(self, command: dict[str, Any]) -> None:
        """Run a slash command; print how long the bot took to answer it in full (a deferred
        answer is complete with its first follow-up)."""
        began = time.perf_counter()
        record = await self.discord.invoke_command(
            command["name"],
            command.get("options") or {},
            channel_id=command["channel"],
            user_id=command["author"],
        )

        def answered() -> bool:
            done = [m for m in record.messages if not m.loading]  # a defer shows "thinking"
            return record.response_type not in (None, 5) or bool(done)

        ok = True
        try:
            await self.discord.wait_until(answered, 120)
        except AssertionError:
            ok = False
        ms = (time.perf_counter() - began) * 1000
        # The files on the answer's messages: a deferred answer uploads with its follow-up, which
        # `record.files` (the callbacks' uploads) does not hold.
        files = sum(len(message.files) for message in record.messages)
        print(json.dumps({"ms": ms, "ok": ok, "files": files}), flush=True)


async def serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)  # a command may list 10,000 channels
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with FakeDiscord() as discord, FakeOpenAI() as llm:
        fakes = Fakes(discord, llm)
        addresses = {"api_base": discord.api_base, "openai_base_url": llm.base_url}
        print(json.dumps(addresses), flush=True)
        while line := await reader.readline():
            answer = await fakes.handle(json.loads(line))
            if answer is not None:
                print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    asyncio.run(serve())
