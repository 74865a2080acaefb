"""Answer a page's refusal as a page: the reason in words a therapist reads, with the same status."""
from __future__ import annotations

import json

import aiohttp_jinja2
from aiohttp import web

NOT_PAGES = ("/api/", "/webhooks/", "/static/", "/healthz", "/readyz", "/metrics")  # machines ask these: JSON answers
TITLES = {400: "That did not work", 403: "Not allowed", 404: "Not found", 409: "Cannot be shown", 429: "Too many tries", 503: "Not available"}


def as_page(request: web.Request, err: web.HTTPException) -> web.Response | None:
    """Return a JSON refusal on a page's path as an HTML page saying why, with the same status; None for any other answer.

    Asked by bot/web/limits.py for what a handler raises: one middleware less on every request, webhooks included.
    """
    if err.status < 400 or request.path.startswith(NOT_PAGES) or err.content_type != "application/json" or aiohttp_jinja2.APP_KEY not in request.app:
        return None
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
