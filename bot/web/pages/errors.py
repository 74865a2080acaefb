"""Answer a page's refusal as a page: the reason in words a therapist reads, with the same status."""
from __future__ import annotations

import json
from typing import Awaitable, Callable

import aiohttp_jinja2
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
NOT_PAGES = ("/api/", "/webhooks/", "/static/", "/healthz", "/readyz", "/metrics")  # machines ask these: JSON answers
TITLES = {400: "That did not work", 403: "Not allowed", 404: "Not found", 409: "Cannot be shown", 429: "Too many tries", 503: "Not available"}


@web.middleware
async def page_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn a JSON refusal on a page's path into an HTML page saying why."""
    try:
        return await handler(request)
    except web.HTTPException as err:
        if err.status < 400 or request.path.startswith(NOT_PAGES) or err.content_type != "application/json" or aiohttp_jinja2.APP_KEY not in request.app:
            raise
        try:
            reason = json.loads(err.text or "{}").get("reason", err.reason)
        except ValueError:
            reason = err.reason
        context = {"title": TITLES.get(err.status, "Something went wrong"), "reason": reason, "therapist": None, "csrf": ""}
        response = aiohttp_jinja2.render_template("error.html", request, context, status=err.status)
        for name in ("Retry-After", "WWW-Authenticate"):
            if name in err.headers:
                response.headers[name] = err.headers[name]
        return response
