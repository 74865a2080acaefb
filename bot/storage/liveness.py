"""Check a pooled PostgreSQL connection is alive without a round trip: the pre-ping cost three (BEGIN, `;`, ROLLBACK).

A connection resting in the pool has nothing left to read. One the server closed (a restart, a
terminated backend) is marked closed once the event loop has seen it go, or else has the server's
farewell or the end of its stream waiting on its socket: either way it is discarded and the pool
opens a new one. A connection that breaks in use is invalidated by SQLAlchemy, with the pool's older ones.
"""
from __future__ import annotations

import select
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine


def check_on_checkout(engine: AsyncEngine) -> None:
    """Have the engine's pool hand out only PostgreSQL connections that are still open."""
    sa_event.listen(engine.sync_engine.pool, "checkout", _refuse_closed)


def _refuse_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    if not is_alive(dbapi_connection.driver_connection):
        raise DisconnectionError("the pooled PostgreSQL connection was closed by the server")


def is_alive(connection: Any) -> bool:
    """Return whether an idle asyncpg connection is open with nothing unread on its socket (no round trip)."""
    if connection.is_closed():
        return False
    sock = connection._transport.get_extra_info("socket") if connection._transport is not None else None
    if sock is None:
        return False
    readable, _, _ = select.select([sock.fileno()], [], [], 0)
    return not readable
