"""Bound every request: an announced body over the limit is refused at once, a slow one is cut off."""
from __future__ import annotations

import asyncio
import json
from typing import Awaitable, Callable, Collection

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from .errors import refuse

SERVER_NAME = "session-companion"  # the Server header: no aiohttp or Python version to look up exploits by
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def request_limits(max_bytes: int, timeout_seconds: float, untimed_paths: Collection[str]) -> Middleware:
    """Return a middleware that refuses bodies over `max_bytes` and requests slower than `timeout_seconds`.

    The body is read first, so a request cut off while its body trickles in is a 408 and nothing
    of the service's work is cancelled; a handler still busy at the deadline is a 503. Routes in
    `untimed_paths` (the notice stream) are meant to stay open and get no deadline.
    """

    @web.middleware
    async def limits(request: web.Request, handler: Handler) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > max_bytes:
            # Answered before reading: waiting for a body that is announced but never sent holds the connection.
            body = json.dumps({"error": "request_entity_too_large", "reason": f"a request body may hold at most {max_bytes} bytes"})
            raise _closing(web.HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=length, text=body, content_type="application/json"))
        resource = request.match_info.route.resource
        if resource is not None and resource.canonical in untimed_paths:
            return await handler(request)
        reading = True
        try:
            async with asyncio.timeout(timeout_seconds) as deadline:
                if request.body_exists:
                    await request.read()  # kept by the request: the handler's read() or json() gets these bytes
                reading = False
                return await handler(request)
        except TimeoutError:
            if not deadline.expired():
                raise  # the handler's own timeout, not ours
            if reading:
                raise _closing(refuse(web.HTTPRequestTimeout, f"the request did not arrive within {timeout_seconds:g} s")) from None
            raise refuse(web.HTTPServiceUnavailable, f"the answer took longer than {timeout_seconds:g} s", **{"Retry-After": "5"}) from None

    return limits


def _closing(error: web.HTTPError) -> web.HTTPError:
    # The rest of the body is never read: keeping the connection would read it as the next request.
    error.force_close()
    return error


async def name_the_server(request: web.Request, response: web.StreamResponse) -> None:
    """Say `Server: session-companion` on every response, errors and 404s included."""
    response.headers[hdrs.SERVER] = SERVER_NAME
