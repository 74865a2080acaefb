"""`GET /metrics` for Prometheus (behind `[metrics] token` when set), and each webhook counted and timed as it is answered."""
from __future__ import annotations

import hmac
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from . import keys
from .errors import refuse
from .health import delivery_wait

routes = web.RouteTableDef()


def outcome(status: int) -> str:
    """Return what an answer's status says became of a webhook: accepted, unauthorized, refused or failed."""
    if status < 400:
        return "accepted"
    if status in (401, 403):
        return "unauthorized"
    return "refused" if status < 500 else "failed"


def count_webhook(app: web.Application, platform: str, status: int, started: float) -> None:
    """Count a webhook answered with `status` by platform and outcome, and time its answer from `started` (bot/web/limits.py asks)."""
    counted, timed = app[keys.METRICS].webhook_answered(platform, outcome(status))
    counted.inc()
    timed.observe(time.perf_counter() - started)


def _token_given(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and given.isascii() and hmac.compare_digest(given.strip().encode(), token.encode())


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Answer every metric in Prometheus' text format; the oldest pending delivery is read now, from the database."""
    token = request.app[keys.SETTINGS].metrics.token
    if token and not _token_given(request, token):
        raise refuse(web.HTTPUnauthorized, "a valid bearer token is required: [metrics] token", **{"WWW-Authenticate": "Bearer"})
    instruments = request.app[keys.METRICS]
    if (waited := await delivery_wait(request.app)) is not None:  # else the gauge keeps its last reading
        instruments.oldest_pending_delivery.set(waited)
    return web.Response(body=instruments.scrape(), headers={"Content-Type": CONTENT_TYPE_LATEST})
