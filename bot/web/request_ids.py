"""Give every request an id: on each log line written while serving it, on its access log line, and in its answer's X-Request-Id."""
from __future__ import annotations

import secrets
from typing import Awaitable, Callable

from aiohttp import web

from bot.config.log_format import REQUEST_ID

HEADER = "X-Request-Id"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request a fresh random id (never one the caller sent: it would reach the logs)."""
    # aiohttp serves each request in a task of its own, with a copy of the context: the id is not reset
    # here, so that the access log line, written in the same task once the answer is sent, carries it too.
    REQUEST_ID.set(secrets.token_hex(8))
    return await handler(request)


async def say_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Put the request's id in its answer (an `on_response_prepare` hook: streamed answers too)."""
    if (request_id := REQUEST_ID.get()) is not None:
        response.headers[HEADER] = request_id
