"""Guard every request in one middleware: its body and time bounded, its URL storable, a failure answered, a webhook counted."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Awaitable, Callable, Collection

from aiohttp import web
from aiohttp.typedefs import Middleware

from .errors import check_storable, failure, refuse
from .metrics import count_webhook
from .webhook_lines import WEBHOOKS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Refusals = Callable[[web.Request, web.HTTPException], web.StreamResponse | None]  # a refusal answered otherwise, or None


def request_limits(max_bytes: int, timeout_seconds: float, untimed_paths: Collection[str], refusals: Refusals | None = None) -> Middleware:
    """Return the middleware that wraps every request, outermost first, in what used to be five:

    - a webhook is counted by platform and outcome, and its answer timed (bot/web/metrics.py);
    - a body over `max_bytes` is refused at once, a request slower than `timeout_seconds` cut off: the
      body is read first, so a request cut off while its body trickles in is a 408 and nothing of the
      service's work is cancelled; a handler still busy at the deadline is a 503. Routes in
      `untimed_paths` (the notice stream) are meant to stay open and get no deadline;
    - a failure no handler foresaw is a 500 with a reason, logged without values (bot/web/errors.py), and a
      refusal a handler raised is answered by `refusals` if it says how (a page's, as a page: bot/web/pages/errors.py);
    - a path or query string no database can hold is a 400 before any handler sees it.

    One middleware, not five: each is a coroutine and a call on every request, and webhooks come by the thousand.
    """
    untimed = frozenset(untimed_paths)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        path = resource.canonical if resource is not None else ""  # the route's own path, never what was sent
        # /webhooks/<platform>[/...]: a closed set, the routes the platforms add
        platform = path.split("/")[2] if path.startswith(WEBHOOKS) else None
        started = time.perf_counter()
        try:
            response = await _bounded(request, handler, max_bytes, None if path in untimed else timeout_seconds, refusals)
        except web.HTTPException as err:
            if platform is not None:
                count_webhook(request.app, platform, err.status, started)
            raise
        if platform is not None:
            count_webhook(request.app, platform, response.status, started)
        return response

    return guard


async def _bounded(
    request: web.Request, handler: Handler, max_bytes: int, timeout_seconds: float | None, refusals: Refusals | None
) -> web.StreamResponse:
    length = request.content_length
    if length is not None and length > max_bytes:
        # Answered before reading: waiting for a body that is announced but never sent holds the connection.
        body = json.dumps({"error": "request_entity_too_large", "reason": f"a request body may hold at most {max_bytes} bytes"})
        raise _closing(web.HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=length, text=body, content_type="application/json"))
    reading = True
    try:
        async with asyncio.timeout(timeout_seconds) as deadline:  # None: no deadline, nothing scheduled
            if timeout_seconds is not None and request.body_exists:
                await request.read()  # kept by the request: the handler's read() or json() gets these bytes
            reading = False
            check_storable(request)
            try:
                return await handler(request)
            except web.HTTPException as err:
                if refusals is not None and (answer := refusals(request, err)) is not None:
                    return answer
                raise
            except Exception as err:
                raise failure(request, err) from None
    except TimeoutError:
        if timeout_seconds is None or not deadline.expired():
            raise  # not our deadline
        if reading:
            raise _closing(refuse(web.HTTPRequestTimeout, f"the request did not arrive within {timeout_seconds:g} s")) from None
        raise refuse(web.HTTPServiceUnavailable, f"the answer took longer than {timeout_seconds:g} s", **{"Retry-After": "5"}) from None


def _closing(error: web.HTTPError) -> web.HTTPError:
    # The rest of the body is never read: keeping the connection would read it as the next request.
    error.force_close()
    return error

