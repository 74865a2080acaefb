"""Let a run of reads share one connection, outside a transaction: on PostgreSQL a transaction's BEGIN and ROLLBACK are two round trips."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# The connection the current task's reads share, with that task: a task started meanwhile inherits the variable,
# but must not use a connection another task is using (or has given back).
_SHARED: ContextVar[tuple[asyncio.Task | None, AsyncConnection] | None] = ContextVar("shared_reads", default=None)


@asynccontextmanager
async def shared_reads(engine: AsyncEngine) -> AsyncIterator[None]:
    """Have the reads that this task makes on `engine` within (through `reading`) share one connection."""
    if _shared(engine) is not None:
        yield
        return
    async with _connected(engine) as conn:
        token = _SHARED.set((asyncio.current_task(), conn))
        try:
            yield
        finally:
            _SHARED.reset(token)


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Return a connection to read with: the one this task's reads share on `engine`, if any, else one of its own."""
    if (shared := _shared(engine)) is not None:
        yield shared
        return
    async with _connected(engine) as conn:
        yield conn


@asynccontextmanager
async def _connected(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Return a connection to read with: on PostgreSQL each statement its own transaction (as READ COMMITTED sees it anyway)."""
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":  # no BEGIN before the first read, nor ROLLBACK when given back
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


def _shared(engine: AsyncEngine) -> AsyncConnection | None:
    found = _SHARED.get()
    if found is None or found[0] is not asyncio.current_task() or found[1].engine is not engine:
        return None
    return found[1]
