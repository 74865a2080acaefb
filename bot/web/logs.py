"""Keep the server's logs small and free of secrets: no query strings, header values or exception text."""
from __future__ import annotations

import errno
import logging
import re
import time
from typing import Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

from bot.config.log_format import REQUEST_ID, frames_only

from . import keys
from .proxies import as_made
from .webhook_lines import WEBHOOKS

# Accept failures asyncio retries every second, each logged with a traceback (megabytes a day).
ACCEPT_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_UNPRINTABLE = re.compile(r"[^\x21-\x7e]")
_QUERY = re.compile(r"\?[^\s'\"]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+\S+")
_PATHS_ONLY = "companion_paths_only"  # on a record: written by PathAccessLogger, from parts that cannot hold a query


class Hush:
    """Let the first of a kind of event through, then at most one a `period`, saying how many were held back."""

    def __init__(self, period: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._period, self._clock = period, clock
        self._last: float | None = None
        self._held = 0

    def admit(self) -> int | None:
        """Return None to hold this event back, or how many were held back before it."""
        now = self._clock()
        if self._last is not None and now - self._last < self._period:
            self._held += 1
            return None
        held, self._held, self._last = self._held, 0, now
        return held


def held_back(held: int) -> str:
    return f"{held} more like it since the last such line" if held else "more like it are logged at most once a minute"


def redact(text: str) -> str:
    """Remove query strings and credentials from text that may quote a request."""
    return _BEARER.sub(r"\1 [withheld]", _QUERY.sub("?[withheld]", text))


class PathAccessLogger(AbstractAccessLogger):
    """Log a request as address, method, path, status, size, time and request id: never its query, headers or body.

    A webhook answered 2xx is summed instead, on one line a second per route and status (bot/web/webhook_lines.py).
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        if 200 <= response.status < 300 and isinstance(request, web.Request) and (resource := request.match_info.route.resource) is not None:
            route = resource.canonical  # the route's own path: a closed set, never what was sent
            if route.startswith(WEBHOOKS) and (lines := request.app.get(keys.WEBHOOK_LINES)) is not None:
                lines.add(request.method, route, response.status, response.body_length, time)
                return
        # The raw path, cut at the query: a decoded path could carry a line break into the log.
        path = _printable(request.raw_path.partition("?")[0].partition("#")[0])[:200]
        method = _printable(request.method)[:16]
        client = as_made(request).remote  # as a trusted proxy said, or the connection's peer
        request_id = REQUEST_ID.get() or "-"  # still set: this line is written in the request's own task
        # Nothing on this line can quote a query or a credential: AccessQueries need not search it again.
        args = (client, method, path, response.status, response.body_length, time, request_id)
        self.logger.info('%s "%s %s" %s %s %.3fs %s', *args, extra={_PATHS_ONLY: True})


def _printable(text: str) -> str:
    """Return `text` with every character that is not printable ASCII, spaces included, as "?"."""
    if text.isascii() and text.isprintable() and " " not in text:  # nearly always: no regex needed
        return text
    return _UNPRINTABLE.sub("?", text)


class RequestErrors(logging.Filter):
    """On aiohttp's server log: a malformed request is one line (at most once a minute), never its text."""

    def __init__(self, hush: Hush | None = None) -> None:
        super().__init__()
        self._hush = hush or Hush()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        record.msg, record.args = redact(record.getMessage()), ()
        record.exc_info, record.exc_text = None, None
        if isinstance(exc, HttpProcessingError):  # aiohttp's parser quotes the offending request line or header
            held = self._hush.admit()
            if held is None:
                return False
            record.msg = f"{record.msg}: malformed HTTP ({type(exc).__name__}), not quoted; {held_back(held)}"
        elif exc is not None:
            record.exc_text = frames_only(exc)
        return True


class AccessQueries(logging.Filter):
    """On aiohttp's access log, whichever access logger wrote it: no query string, no credentials."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, _PATHS_ONLY, False):  # PathAccessLogger's own lines hold nothing to withhold
            record.msg, record.args = redact(record.getMessage()), ()
        return True


class AcceptErrors(logging.Filter):
    """On asyncio's log: 'socket.accept() out of system resource' once, then at most once a minute with a count;
    any other failure it reports keeps its frames but not its text."""

    def __init__(self, hush: Hush | None = None) -> None:
        super().__init__()
        self._hush = hush or Hush()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        if not (isinstance(exc, OSError) and exc.errno in ACCEPT_ERRNOS and "accept" in str(record.msg)):
            # "Task exception was never retrieved" and the like print the task with its exception's text.
            record.msg, record.args = record.getMessage().partition("\n")[0], ()
            record.exc_info, record.exc_text = None, frames_only(exc)
            return True
        held = self._hush.admit()
        if held is None:
            return False
        record.msg, record.args = "cannot accept connections: %s (the open-file limit, or memory); %s", (exc.strerror, held_back(held))
        record.exc_info, record.exc_text = None, None
        return True


def quiet_server_logs() -> None:
    """Attach the filters to aiohttp's server-side loggers and to asyncio's, once."""
    loggers = (
        ("aiohttp.server", RequestErrors),
        ("aiohttp.web", RequestErrors),
        ("aiohttp.internal", RequestErrors),
        ("aiohttp.access", AccessQueries),
        ("asyncio", AcceptErrors),
    )
    for name, kind in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())
