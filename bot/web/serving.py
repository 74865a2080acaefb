"""Serve the app for real (`companion serve`): the port first, capped connections, quiet logs, an orderly shutdown.

aiohttp and the app are imported only once the port answers its health checks (bot/web/starting.py).
"""
from __future__ import annotations

import asyncio
import errno
import gc
import importlib
import logging
import signal
import socket
from typing import TYPE_CHECKING

from bot.core.settings import Settings

from .starting import StartingDoor

if TYPE_CHECKING:
    from aiohttp import web

    from .connections import CappedRunner

_LOGGER = logging.getLogger(__name__)
FILES_KEPT_BACK = 256  # open files the service needs besides its connections: databases, logs, outbound clients
LINGER_SECONDS = 1.0  # after refusing a body, read (and drop) the rest this long so the answer arrives; aiohttp's 10 s is a gift to a slow sender
KEEPALIVE_SECONDS = 75.0  # a connection that sends no whole request in this long is closed (aiohttp's run_app default)
WHY_NOT = {
    errno.EADDRINUSE: "the port is in use (another companion serve?): stop it, or choose another with [server] port or --port",
    errno.EACCES: "permission denied (a port below 1024 needs privileges: use a higher one behind a proxy)",
    errno.EADDRNOTAVAIL: "this host has no such address: check [server] host",
}


class CannotListen(Exception):
    """The service cannot have its address and port; nothing was started."""


def bind(host: str, port: int) -> list[socket.socket]:
    """Bind every address of `host` on `port`, or raise CannotListen: before the app starts anything."""
    try:
        found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise CannotListen(f"cannot listen on {host}:{port}: the host name does not resolve ({err.strerror})") from None
    bound: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio does: a restart need not wait for TIME_WAIT
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # its IPv4 twin is bound on its own
            sock.bind(address)
    except OSError as err:
        for sock in bound:
            sock.close()
        raise CannotListen(f"cannot listen on {host}:{port}: {WHY_NOT.get(err.errno or 0, err.strerror)}") from None
    return bound


def raise_open_file_limit() -> int:
    """Raise the soft limit on open files to the hard limit, and return the soft limit in force."""
    try:
        import resource
    except ImportError:  # not on this platform: nothing to raise
        return 1 << 16
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)  # some kernels refuse an unlimited soft limit
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            _LOGGER.info("open-file limit raised from %d to %d", soft, target)
            soft = target
        except (OSError, ValueError) as err:
            _LOGGER.warning("open-file limit stays at %d: it cannot be raised to %d (%s)", soft, target, type(err).__name__)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def connection_cap(configured: int, open_files: int) -> int:
    """Return the connection cap the open-file limit leaves room for, at most the configured one."""
    room = max(open_files - FILES_KEPT_BACK, open_files // 2, 1)
    if configured > room:
        _LOGGER.warning(
            "[server] max_connections is %d, but the open-file limit (%d) leaves room for %d: capping there "
            "(raise the limit, e.g. LimitNOFILE= in a systemd unit, for more)", configured, open_files, room,
        )
    return min(configured, room)


def check_stream_room(max_streams: int, open_files: int) -> None:
    """Warn when the open-file limit cannot hold `[zoom] rtms_max_streams` streams' sockets besides the service's own files."""
    needed = 2 * max_streams + FILES_KEPT_BACK  # each RTMS stream holds a signaling and a media socket
    if open_files < needed:
        _LOGGER.warning(
            "[zoom] rtms_max_streams is %d: its sockets need about %d open files, but the open-file limit is %d "
            "(raise the limit, e.g. LimitNOFILE= in a systemd unit, or lower the setting)", max_streams, needed, open_files,
        )


async def start(settings: Settings, port: int, app: web.Application | None = None) -> CappedRunner:
    """Start the app and listen on `[server] host` and `port`; the caller cleans the runner up.

    The port is bound before the app starts: one in use stops here, before the database is opened and
    before any scheduler, sync, stream, worker or purge has run (CannotListen), leaving nothing behind.
    """
    sockets = bind(settings.server.host, port)
    open_files = raise_open_file_limit()
    return await _run(settings, sockets, open_files, connection_cap(settings.server.max_connections, open_files), app)


async def _run(
    settings: Settings, sockets: list[socket.socket], open_files: int, cap: int, app: web.Application | None = None, door: StartingDoor | None = None
) -> CappedRunner:
    """Start the app on bound sockets; the door, if any, hands over the connections it held once the app has started."""
    from aiohttp import web

    from .app import create_app
    from .connections import CappedRunner
    from .logs import PathAccessLogger

    if settings.zoom.rtms_client_id:
        check_stream_room(settings.zoom.rtms_max_streams, open_files)
    runner = CappedRunner(
        app or create_app(settings), cap,
        access_log_class=PathAccessLogger, keepalive_timeout=KEEPALIVE_SECONDS, lingering_time=LINGER_SECONDS,
    )
    try:
        await runner.setup()
        if door is not None:
            assert runner.server is not None  # set up above
            await door.hand_over(runner.server)
        for sock in sockets:
            await web.SockSite(runner, sock).start()
    except BaseException:
        await runner.cleanup()  # what had started, in reverse (the database closed last)
        if door is not None:
            await door.close()
        for sock in sockets:  # those no site took yet (closing one twice is harmless)
            sock.close()
        raise
    _LOGGER.info("serving on http://%s:%d (at most %d connections)", settings.server.host, sockets[0].getsockname()[1], cap)
    return runner


async def _opened(settings: Settings, port: int) -> CappedRunner:
    """Bind, answer the health checks at once, import and start the app meanwhile, then let it take every connection."""
    sockets = bind(settings.server.host, port)
    open_files = raise_open_file_limit()
    cap = connection_cap(settings.server.max_connections, open_files)
    door = StartingDoor(sockets, cap)
    door.open()
    try:
        # In a thread, so the loop answers /healthz meanwhile: the imports are most of a start.
        await asyncio.to_thread(importlib.import_module, "bot.web.app")
    except BaseException:
        await door.close()
        for sock in sockets:
            sock.close()
        raise
    return await _run(settings, sockets, open_files, cap, door=door)


async def _serve(settings: Settings, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = await _opened(settings, port)
    # What start-up made (modules, routes, the engine, templates) lives as long as the service: out of the
    # collector's sight, a full collection no longer walks it all (about 100 ms each, on the loop, under load).
    gc.freeze()
    try:
        await stop.wait()
        _LOGGER.info("shutting down")
    finally:
        gc.unfreeze()  # a connection abandoned at shutdown must be collectable (bot/web/app.py, _storage)
        await runner.cleanup()


def serve(settings: Settings, port: int) -> None:
    """Serve the app on `[server] host` and `port` until SIGINT or SIGTERM, then shut it down in order."""
    asyncio.run(_serve(settings, port))
