"""Serve the app for real (`companion serve`): capped connections, quiet logs, an orderly shutdown."""
from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from bot.core.settings import Settings

from .app import create_app
from .connections import CappedRunner
from .logs import PathAccessLogger

_LOGGER = logging.getLogger(__name__)
FILES_KEPT_BACK = 256  # open files the service needs besides its connections: databases, logs, outbound clients
LINGER_SECONDS = 1.0  # after refusing a body, read (and drop) the rest this long so the answer arrives; aiohttp's 10 s is a gift to a slow sender
KEEPALIVE_SECONDS = 75.0  # a connection that sends no whole request in this long is closed (aiohttp's run_app default)


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


async def start(settings: Settings, port: int, app: web.Application | None = None) -> CappedRunner:
    """Start the app and listen on `[server] host` and `port`; the caller cleans the runner up."""
    cap = connection_cap(settings.server.max_connections, raise_open_file_limit())
    runner = CappedRunner(
        app or create_app(settings), cap,
        access_log_class=PathAccessLogger, keepalive_timeout=KEEPALIVE_SECONDS, lingering_time=LINGER_SECONDS,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.server.host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    _LOGGER.info("serving on http://%s:%d (at most %d connections)", settings.server.host, site.port, cap)
    return runner


async def _serve(settings: Settings, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = await start(settings, port)
    try:
        await stop.wait()
        _LOGGER.info("shutting down")
    finally:
        await runner.cleanup()


def serve(settings: Settings, port: int) -> None:
    """Serve the app on `[server] host` and `port` until SIGINT or SIGTERM, then shut it down in order."""
    asyncio.run(_serve(settings, port))
