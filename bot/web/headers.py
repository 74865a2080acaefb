"""The headers of every answer: the server's name, the request's id, a strict Content-Security-Policy, no sniffing, no referrer, no caching."""
from __future__ import annotations

from typing import Awaitable, Callable

from aiohttp import hdrs, web

from bot.config.log_format import REQUEST_ID
from bot.core.settings import ServerSettings

from .proxies import as_made

STATIC_PREFIX = "/static/"
SERVER_NAME = "session-companion"  # the Server header: no aiohttp or Python version to look up exploits by
REQUEST_ID_HEADER = "X-Request-Id"


def content_security_policy(server: ServerSettings) -> str:
    """Return the pages' policy: only the service's own scripts, styles and connections; no inline script, no eval."""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            f"frame-ancestors {server.frame_ancestors}",
        ]
    )


def answer_headers(server: ServerSettings) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """Return the `on_response_prepare` hook (streamed answers too) that sets them all.

    `Server: session-companion` on every response, errors and 404s included; the request's id, if it was
    given one; HSTS only when served over https, or public_url is https. One hook, not three: each is a
    coroutine on every answer.
    """
    policy = content_security_policy(server)
    https = server.public_url.startswith("https://")

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers[hdrs.SERVER] = SERVER_NAME
        if (request_id := REQUEST_ID.get()) is not None:
            headers[REQUEST_ID_HEADER] = request_id
        headers.setdefault("Content-Security-Policy", policy)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        if https or as_made(request).secure:  # over TLS to us, or to a trusted proxy that says so
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if not request.path.startswith(STATIC_PREFIX):
            headers["Cache-Control"] = "no-store"  # pages and answers carry clinical data: never kept by a browser or proxy

    return add_headers
