"""`GET /healthz` and `GET /metrics`: what a load balancer and Prometheus ask, without the API
token. `/healthz` is always open; `/metrics` asks for SESSIONBOT_METRICS_TOKEN when it is set.

A probe never calls the model: the model check reports how the last real model call went.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from bot.api.auth import bearer_token
from bot.api.errors import ApiError
from bot.api.state import state
from bot.engine import Engine
from bot.metrics import CONTENT_TYPE, GatewayStatus, Metrics
from storage import StoreStatus

__all__ = ["OBSERVED", "Observed", "routes"]

log = logging.getLogger(__name__)

# A database that does not answer a count within this long is not healthy.
_STORE_TIMEOUT: Final = 2.0
_NO_CACHE: Final = {"Cache-Control": "no-store"}

routes = web.RouteTableDef()


@dataclass(frozen=True)
class Observed:
    """The process's metrics, and the token `/metrics` asks for (None: open)."""

    metrics: Metrics
    token: str | None


OBSERVED = web.AppKey("sessionbot_api_observed", Observed)


@routes.get("/healthz", name="healthz")
async def healthz(request: web.Request) -> web.Response:
    """200 `{"status": "ok", "checks": {...}}` when every check passes, else 503 `degraded`."""
    metrics = request.app[OBSERVED].metrics
    checks: dict[str, dict[str, Any]] = {"store": await _store_check(state(request).engine)}
    gateway = metrics.gateway_status()
    if gateway is not None:
        checks["discord"] = _gateway_check(gateway)
    checks["model"] = _model_check(metrics)
    healthy = all(check["status"] == "ok" for check in checks.values())
    return web.json_response(
        {"status": "ok" if healthy else "degraded", "checks": checks},
        status=200 if healthy else 503,
        headers=_NO_CACHE,
    )


@routes.get("/metrics", name="metrics")
async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text exposition; the gauges are read at scrape time."""
    observed = request.app[OBSERVED]
    if observed.token is not None:
        given = bearer_token(request, setting="SESSIONBOT_METRICS_TOKEN")
        if not hmac.compare_digest(given, observed.token.encode()):
            raise ApiError(401, "unauthorized", "The metrics token is not valid.")
    status = await _store_status(state(request).engine)
    active = status.active_sessions if isinstance(status, StoreStatus) else None
    body = observed.metrics.render(active)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE, **_NO_CACHE})


async def _store_status(engine: Engine) -> StoreStatus | str:
    """The store's status, or why it could not be read (a probe reports, never raises)."""
    try:
        return await asyncio.wait_for(engine.store_status(), _STORE_TIMEOUT)
    except TimeoutError:
        return f"no answer within {_STORE_TIMEOUT:g} s"
    except Exception as exc:  # any failure is the finding, reported in the response
        log.warning("health: the database failed: %s: %s", type(exc).__name__, exc)
        return f"the database failed ({type(exc).__name__})"


async def _store_check(engine: Engine) -> dict[str, Any]:
    started = time.perf_counter()
    status = await _store_status(engine)
    if not isinstance(status, StoreStatus):
        return {"status": "fail", "error": status}
    return {
        "status": "ok",
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        "schema_version": status.schema_version,
        "active_sessions": status.active_sessions,
    }


def _gateway_check(gateway: GatewayStatus) -> dict[str, Any]:
    latency = None if gateway.latency is None else round(gateway.latency * 1000, 1)
    return {
        "status": "ok" if gateway.connected else "fail",
        "connected": gateway.connected,
        "latency_ms": latency,
    }


def _model_check(metrics: Metrics) -> dict[str, Any]:
    """The last model call's outcome and age; before the first call, ok with no outcome."""
    last, age = metrics.last_model, metrics.model_age()
    if last is None or age is None:
        return {"status": "ok", "last_call": None, "age_seconds": None}
    return {
        "status": "ok" if last.ok else "fail",
        "last_call": "ok" if last.ok else last.kind,
        "age_seconds": round(age, 1),
    }
