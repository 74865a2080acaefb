"""Take turns at SQLite's one write lock within the process, so that a writer waiting for it starts as soon as it is free.

SQLite's own wait (busy_timeout) sleeps and tries again, in steps of up to 100 ms: under a burst the writers of the
notice path (a batch of notices, each channel's claims, the finished sends) would spend most of their time asleep.
PostgreSQL locks rows, not the database: its writers take no turns.
"""
from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import AsyncContextManager

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

_TURNS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


def write_turn(engine: AsyncEngine) -> AsyncContextManager[object]:
    """Return what a writer holds around its transaction: the database's turn on SQLite, nothing on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    turn = _TURNS.get(engine.sync_engine)
    if turn is None:
        turn = _TURNS[engine.sync_engine] = asyncio.Lock()
    return turn
