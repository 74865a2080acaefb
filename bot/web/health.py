"""Liveness (`GET /healthz`: the process answers) and readiness (`GET /readyz`: the database, the scheduler, the deliveries, the lead)."""
from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from . import keys
from .logs import Hush, held_back

_LOGGER = logging.getLogger(__name__)
DATABASE_SECONDS = 2.0  # a database slower than this to answer counts as not answering
_HUSH = Hush()  # a load balancer asks every few seconds: one line a minute while the database is away
routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Answer 200 while the process serves requests, whatever else is wrong (a restart would not mend it)."""
    return web.json_response({"status": "ok"})


async def delivery_wait(app: web.Application) -> float | None:
    """Return how long the oldest delivery this instance's workers have to send has waited (0: none), or None
    when the database does not answer within DATABASE_SECONDS: the query is the database's check too."""
    channels = list(app[keys.DELIVERIES].workers)  # none (dashboard only): the query still runs, and answers None
    try:
        async with asyncio.timeout(DATABASE_SECONDS):
            raised = await app[keys.OUTBOX].oldest_unfinished(channels)
    except Exception as err:  # refused, dropped, too slow: its kind only, the driver's text may name the database's insides
        if (held := _HUSH.admit()) is not None:
            _LOGGER.warning("the database did not answer a readiness check (%s); %s", type(err).__name__, held_back(held))
        return None
    return max(0.0, (app[keys.CLOCK]() - raised).total_seconds()) if raised is not None else 0.0


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Answer 200 when the service can do its work now, else 503 with the reasons (never an id or a person's data)."""
    app = request.app
    reasons = []
    waited = await delivery_wait(app)
    if waited is None:
        reasons.append(f"the database did not answer within {DATABASE_SECONDS:g} s")
    leader = app[keys.LEADERSHIP].leader
    if leader and not app[keys.SCHEDULER].running:  # a follower's scheduler stands by: the leader's runs the due work
        reasons.append("the scheduler is not running: reminders and timers would not fire")
    limit = app[keys.SETTINGS].server.ready_max_pending_delivery_seconds
    if waited is not None and waited > limit:
        reasons.append(f"a delivery has waited {waited:.0f} s to be sent, more than {limit} s ([server] ready_max_pending_delivery_seconds)")
    owned = {"streams_owned": streams_owned(app)}
    if reasons:
        return web.json_response({"status": "not_ready", "reasons": reasons, "leader": leader, **owned}, status=503)
    return web.json_response({"status": "ready", "leader": leader, **owned})


def streams_owned(app: web.Application) -> int:
    """Return how many RTMS streams this instance holds the lease of (0 where no platform streams)."""
    [gauge] = app[keys.METRICS].rtms_streams_owned.collect()
    return int(gauge.samples[0].value)
