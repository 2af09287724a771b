"""`sessionbot run` with the HTTP API on: `/healthz` sees the Discord gateway, `/metrics` the
messages answered in Discord."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.bot.services.test_run import (
    api_url_after_a_reply,
    connected,
    general_and_alice,
    sessionbot_run,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

API_TOKEN = "an-api-token-of-some-length"


async def test_run_serves_healthz_with_the_gateway_and_counts_discord_replies(
    tmp_path: Path,
) -> None:
    async with FakeDiscord(token="subprocess-bot-token") as fake, FakeOpenAI() as llm:
        general, alice = general_and_alice(fake)
        env = connected(
            tmp_path, fake, llm, SESSIONBOT_API_PORT="0", SESSIONBOT_API_TOKEN=API_TOKEN
        )
        process = await sessionbot_run(env, tmp_path)
        try:
            url = await api_url_after_a_reply(process, fake, general, alice)
            async with aiohttp.ClientSession() as http:
                health = await _until_connected(http, url)
                async with http.get(f"{url}/metrics") as response:
                    assert response.status == 200
                    exposition = await response.text()
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.communicate(), timeout=20)
    assert health["status"] == "ok"
    assert health["checks"]["discord"]["connected"] is True
    assert health["checks"]["model"]["last_call"] == "ok"
    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if not sample.labels
    }
    assert values["sessionbot_messages_received_total"] == 1
    assert values["sessionbot_replies_sent_total"] == 1
    assert values["sessionbot_discord_gateway_connected"] == 1


async def _until_connected(http: aiohttp.ClientSession, url: str) -> dict[str, object]:
    """`/healthz` once the first heartbeat's round trip is known."""
    for _ in range(100):
        async with http.get(f"{url}/healthz") as response:
            body: dict[str, object] = await response.json()
        if response.status == 200:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"never healthy: {body}")
