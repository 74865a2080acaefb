"""A fake platform API on loopback: records every request and answers with programmable faults."""
from __future__ import annotations

import asyncio
import ssl
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Received:
    """One request the fake took: which route, when (perf_counter), its headers and its body."""

    route: str
    at: float
    headers: dict[str, str]
    body: Any
    path: str


@dataclass
class Fault:
    """How the fake misbehaves on a route: a status (with Retry-After), a dropped connection, or a delay."""

    status: int | None = None
    retry_after: str | None = None
    drop: bool = False
    delay: float = 0.0
    only_if: bytes | None = None  # applies only to requests whose body contains this


@dataclass
class FakeService:
    """Routes are named; `fail(route, ...)` queues faults for the next calls, `down(route)` fails them all.

    `hits` counts every call to a route, faulted or not; `received` keeps the calls answered normally.
    """

    app: web.Application = field(default_factory=web.Application)
    received: list[Received] = field(default_factory=list)
    faults: dict[str, deque[Fault]] = field(default_factory=lambda: defaultdict(deque))
    always: dict[str, Fault] = field(default_factory=dict)
    urls: list[str] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)
    _runner: web.AppRunner | None = None

    def route(self, method: str, path: str, name: str, handler: Handler) -> None:
        """Serve `handler` at `path`, applying the route's faults first."""

        async def faulty(request: web.Request) -> web.StreamResponse:
            self.hits[name] += 1
            fault = self._next_fault(name, await request.read())
            if fault is not None and fault.delay:
                await asyncio.sleep(fault.delay)
            if fault is not None and fault.drop:
                assert request.transport is not None
                request.transport.close()
                return web.Response(status=500)
            if fault is not None and fault.status:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return web.json_response({"error": "fault"}, status=fault.status, headers=headers)
            return await handler(request)

        self.app.router.add_route(method, path, faulty)

    def _next_fault(self, route: str, body: bytes) -> Fault | None:
        for fault in self.faults[route]:
            if fault.only_if is None or fault.only_if in body:
                self.faults[route].remove(fault)
                return fault
        return self.always.get(route)

    async def record(self, name: str, request: web.Request, body: Any) -> None:
        """Keep a request that the fake answered normally."""
        self.received.append(Received(name, time.perf_counter(), dict(request.headers), body, request.path))

    def fail(self, route: str, times: int = 1, **fault: Any) -> None:
        """Make the next `times` calls to a route misbehave."""
        self.faults[route].extend(Fault(**fault) for _ in range(times))

    def down(self, route: str, **fault: Any) -> None:
        """Make every call to a route misbehave (default: drop the connection) until `up`."""
        self.always[route] = Fault(**(fault or {"drop": True}))

    def up(self, route: str) -> None:
        """Let a route answer normally again."""
        self.always.pop(route, None)

    def bodies(self, route: str) -> list[Any]:
        """Return the bodies of a route's normally answered calls, in order."""
        return [r.body for r in self.received if r.route == route]

    async def start(self, *contexts: ssl.SSLContext | None) -> list[str]:
        """Listen on one loopback port per context (None: plain HTTP); return each base URL."""
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        for context in contexts or (None,):
            site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.urls.append(f"{'https' if context else 'http'}://127.0.0.1:{port}")
        return self.urls

    async def stop(self) -> None:
        """Stop listening and drop open connections (twice is harmless)."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
