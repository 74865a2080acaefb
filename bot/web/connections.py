"""Hold at most so many connections: at the cap an idle one makes room, else the new one is closed at once."""
from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from aiohttp import hdrs, web

from .headers import SERVER_NAME
from .logs import Hush

_LOGGER = logging.getLogger(__name__)


class _Closed(asyncio.Protocol):
    """A connection beyond the cap: closed as soon as it is made, before it can cost more than its socket."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class _Handler(web.RequestHandler):
    """aiohttp's connection handler, whose answers to unparseable requests name no version and quote nothing."""

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None, message: str | None = None) -> web.StreamResponse:
        if status < 500:  # aiohttp would quote the offending request line back, token and all
            message = "the request is not valid HTTP"
        response = super().handle_error(request, status, exc, message)
        response.headers[hdrs.SERVER] = SERVER_NAME  # no route matched, so on_response_prepare never sees it
        return response


def _idle(handler: web.RequestHandler) -> bool:
    # Waiting for a request (none yet, between keep-alive requests, or headers still trickling in):
    # the test aiohttp itself uses before closing a connection at its keep-alive timeout.
    waiter = handler._waiter
    return handler.transport is not None and waiter is not None and not waiter.done()


class CappedServer(web.Server):
    """aiohttp's server with a cap on open connections.

    Closing idle connections first is what nginx does when its connections run out: a burst of
    idle sockets cannot lock out a webhook, and a request under way is never cut short for room.
    """

    def __init__(self, made: web.Server, limit: int, handler_kwargs: dict[str, Any]) -> None:
        super().__init__(made.request_handler, request_factory=made.request_factory, handler_cancellation=made.handler_cancellation, **handler_kwargs)
        self.limit = limit
        self._handler_kwargs = handler_kwargs
        # In the order they came, so the oldest idle one goes first; weak, so that a handler whose
        # socket failed before it was ever connected (no connection_lost follows) holds no place.
        self._open: weakref.WeakKeyDictionary[web.RequestHandler, None] = weakref.WeakKeyDictionary()
        self._hush = Hush()

    @property
    def open_count(self) -> int:
        """Return how many connections are open or being opened."""
        return len(self._open)

    def __call__(self) -> asyncio.Protocol:  # type: ignore[override]
        if len(self._open) >= self.limit and not self._make_room():
            self._at_cap()
            return _Closed()
        handler = _Handler(self, loop=asyncio.get_running_loop(), **self._handler_kwargs)
        self._open[handler] = None
        return handler

    def connection_lost(self, handler: web.RequestHandler, exc: BaseException | None = None) -> None:
        super().connection_lost(handler, exc)
        self._open.pop(handler, None)

    def _make_room(self) -> bool:
        idle = next((handler for handler in self._open if _idle(handler)), None)
        if idle is None:
            return False
        self._open.pop(idle)
        idle.force_close()
        self._at_cap()
        return True

    def _at_cap(self) -> None:
        held = self._hush.admit()
        if held == 0:
            _LOGGER.warning(
                "connection cap reached: %d connections are open ([server] max_connections); idle ones are closed "
                "to make room, and new ones at once while none is idle (said again at most once a minute)", self.limit,
            )
        elif held is not None:
            _LOGGER.warning("connection cap: %d connections closed at the cap since the last warning", held + 1)


class CappedRunner(web.AppRunner):
    """aiohttp's AppRunner, serving through a CappedServer."""

    def __init__(self, app: web.Application, limit: int, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._limit = limit
        self._handler_kwargs = {k: v for k, v in kwargs.items() if k not in ("handle_signals", "shutdown_timeout")}
        self._handler_kwargs.setdefault("access_log_class", web.AccessLogger)

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()  # starts the app (its startup signals and cleanup contexts)
        return CappedServer(made, self._limit, self._handler_kwargs)
