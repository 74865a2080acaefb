"""Give every request an id: on each log line written while serving it, on its access log line, and in its answer's X-Request-Id."""
from __future__ import annotations

import itertools
import secrets
from typing import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.config.log_format import REQUEST_ID

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ID_SPACE = 1 << 64  # ids are 16 hex digits


def request_ids() -> Middleware:
    """Return the middleware that gives each request a fresh id (never one the caller sent: it would reach the logs).

    The ids count up from a random start, one a request: unique within the process and unlike another
    start's, without asking the system for randomness on every request (the id tells lines apart; it guards nothing).
    """
    counter = itertools.count(secrets.randbits(64))

    @web.middleware
    async def request_id(request: web.Request, handler: Handler) -> web.StreamResponse:
        # aiohttp serves each request in a task of its own, with a copy of the context: the id is not reset
        # here, so that the access log line, written in the same task once the answer is sent, carries it too.
        REQUEST_ID.set(f"{next(counter) % ID_SPACE:016x}")
        return await handler(request)

    return request_id

