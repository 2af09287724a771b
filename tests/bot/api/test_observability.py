"""`/healthz` and `/metrics` on a real API server, with the engine's turns counted by `Metrics`
and the exposition parsed by prometheus_client's own parser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bot.api import create_app, listening
from bot.metrics import GatewayStatus, Metrics
from situations import PersonaRegistry
from storage import SessionStore
from tests.bot.api.conftest import MAX_BODY, TOKEN
from tests.bot.engines import engine_over, served
from tests.fakes.openai_server import FakeOpenAI

METRICS_TOKEN = "metrics-token-0123456789"


@dataclass
class Observed:
    http: httpx.AsyncClient
    bare: httpx.AsyncClient
    metrics: Metrics
    store: SessionStore
    fake: FakeOpenAI


async def _serve(
    tmp_path: Path, persona_dir: Path, fake: FakeOpenAI, metrics_token: str | None
) -> AsyncIterator[Observed]:
    registry = PersonaRegistry(persona_dir)
    await registry.load()
    metrics = Metrics()
    async with (
        SessionStore.open(tmp_path / "observed.db") as store,
        engine_over(store, registry, fake, default_persona="ada", events=metrics) as engine,
    ):
        app = create_app(
            engine, token=TOKEN, max_body=MAX_BODY, metrics=metrics, metrics_token=metrics_token
        )
        async with served(app, TOKEN) as server:
            yield Observed(
                http=server.http, bare=server.bare, metrics=metrics, store=store, fake=fake
            )


@pytest.fixture
async def observed(
    tmp_path: Path, persona_dir: Path, fake_openai: FakeOpenAI
) -> AsyncIterator[Observed]:
    async for server in _serve(tmp_path, persona_dir, fake_openai, None):
        yield server


@pytest.fixture
async def guarded(
    tmp_path: Path, persona_dir: Path, fake_openai: FakeOpenAI
) -> AsyncIterator[Observed]:
    async for server in _serve(tmp_path, persona_dir, fake_openai, METRICS_TOKEN):
        yield server


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, parsed by prometheus_client, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def chat(observed: Observed, text: str) -> httpx.Response:
    created = await observed.http.post("/sessions", json={"agent": "ada"})
    assert created.status_code == 201
    body = {"messages": [{"role": "user", "content": text}]}
    return await observed.http.post(f"/sessions/{created.json()['id']}/chat", json=body)


async def test_healthz_is_ok_without_a_token_before_any_model_call(observed: Observed) -> None:
    response = await observed.bare.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["store"]["status"] == "ok"
    assert body["checks"]["store"]["active_sessions"] == 0
    assert body["checks"]["model"] == {"status": "ok", "last_call": None, "age_seconds": None}
    assert "discord" not in body["checks"]  # no bot in this process


async def test_healthz_reports_the_last_model_call_without_calling_the_model(
    observed: Observed,
) -> None:
    assert (await chat(observed, "hello")).status_code == 200
    calls = len(observed.fake.requests)
    body = (await observed.bare.get("/healthz")).json()
    assert body["checks"]["model"]["last_call"] == "ok"
    assert body["checks"]["model"]["age_seconds"] >= 0
    assert body["checks"]["store"]["active_sessions"] == 1
    assert len(observed.fake.requests) == calls  # the probe spent no tokens

    observed.fake.fail_next(500)
    assert (await chat(observed, "again")).status_code == 502
    response = await observed.bare.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["model"]["status"] == "fail"
    assert response.json()["checks"]["model"]["last_call"] == "unavailable"


async def test_healthz_is_degraded_when_the_store_is_closed(observed: Observed) -> None:
    await observed.store.close()
    response = await observed.bare.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["store"]["status"] == "fail"
    assert "error" in body["checks"]["store"]


async def test_healthz_reports_the_discord_gateway_when_a_bot_runs(observed: Observed) -> None:
    observed.metrics.gateway = lambda: GatewayStatus(connected=True, latency=0.0421)
    body = (await observed.bare.get("/healthz")).json()
    assert body["checks"]["discord"] == {"status": "ok", "connected": True, "latency_ms": 42.1}
    observed.metrics.gateway = lambda: GatewayStatus(connected=False, latency=None)
    response = await observed.bare.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["discord"]["connected"] is False


async def test_metrics_count_a_chat_through_the_api(observed: Observed) -> None:
    assert (await chat(observed, "one two three")).status_code == 200
    observed.fake.fail_next(500)
    assert (await chat(observed, "fails")).status_code == 502
    response = await observed.bare.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(response.text)
    assert got[("sessionbot_messages_received_total", ())] == 2
    assert got[("sessionbot_replies_sent_total", ())] == 1
    assert got[("sessionbot_reply_first_token_seconds_count", ())] == 1
    assert got[("sessionbot_reply_seconds_count", ())] == 1
    assert got[("sessionbot_reply_seconds_sum", ())] > 0
    assert got[("sessionbot_reply_context_tokens_count", ())] == 1
    assert got[("sessionbot_reply_context_tokens_sum", ())] > 0
    assert got[("sessionbot_model_errors_total", (("kind", "unavailable"),))] == 1
    assert got[("sessionbot_model_errors_total", (("kind", "timeout"),))] == 0
    assert got[("sessionbot_summaries_folded_total", ())] == 0
    assert got[("sessionbot_active_sessions", ())] == 2


async def test_metrics_token_is_asked_for_when_set(guarded: Observed) -> None:
    assert (await guarded.bare.get("/metrics")).status_code == 401
    assert (await guarded.http.get("/metrics")).status_code == 401  # the API token is not it
    authorized = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    response = await guarded.bare.get("/metrics", headers=authorized)
    assert response.status_code == 200
    assert ("sessionbot_active_sessions", ()) in samples(response.text)
    assert (await guarded.bare.get("/healthz")).status_code == 200  # always open
    assert (await guarded.bare.get("/sessions")).status_code == 401  # the rest is not


async def test_rest_trace_counts_discord_429s_by_scope() -> None:
    async def limited(request: web.Request) -> web.Response:
        scope = request.query.get("scope", "")
        return web.json_response(
            {"retry_after": 0}, status=429, headers={"X-RateLimit-Scope": scope}
        )

    app = web.Application()
    app.router.add_get("/", limited)
    metrics = Metrics()
    async with (
        listening(app, host="127.0.0.1", port=0) as bound,
        aiohttp.ClientSession(trace_configs=[metrics.rest_trace()]) as http,
    ):
        for scope in ("user", "global", "made-up"):
            async with http.get(bound.url, params={"scope": scope}) as response:
                assert response.status == 429
    got: dict[Any, float] = samples(metrics.render(None).decode())
    for scope in ("user", "global", "unknown"):
        assert got[("sessionbot_discord_rate_limited_total", (("scope", scope),))] == 1
