"""Answer every request with a reason: input the store cannot hold is a 400, and a failure a 500 that logs no values (bot/web/limits.py asks)."""
from __future__ import annotations

import json
import logging
import re

from aiohttp import web

from bot.config.log_format import frames_only
from bot.core.text import storable

_LOGGER = logging.getLogger(__name__)


def refuse(error: type[web.HTTPError], reason: str, **headers: str) -> web.HTTPError:
    """Return an HTTP error whose JSON body says why (raise it)."""
    code = re.sub(r"(?<!^)(?=[A-Z])", "_", error.__name__.removeprefix("HTTP")).lower()  # NotFound: not_found
    body = json.dumps({"error": code, "reason": reason})
    return error(text=body, content_type="application/json", headers=headers or None)


def check_storable(request: web.Request) -> None:
    """Refuse (400) a path or query string holding characters no database can hold, before any handler sees it."""
    if not storable(request.path) or not all(storable(k) and storable(v) for k, v in request.query.items()):
        raise refuse(web.HTTPBadRequest, "the URL holds a NUL character or bytes that are not UTF-8")


def failure(request: web.Request, err: Exception) -> web.HTTPError:
    """Return the 500 with a reason for a failure no handler foresaw, logging where it happened but no values."""
    # The exception's text may quote what the caller sent (a note, a name): log its kind and frames only.
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "-"
    _LOGGER.error("%s %s failed:\n%s", request.method, route, frames_only(err))
    return refuse(web.HTTPInternalServerError, "the service failed on this request; it was logged without its content")
