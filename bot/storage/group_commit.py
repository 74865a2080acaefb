"""Group concurrent writes into one transaction, so one commit (one fsync) acknowledges many webhooks."""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

Item = TypeVar("Item")
# Applies a whole batch in one transaction and returns one result per item, in order.
Apply = Callable[[AsyncConnection, list[Any]], Awaitable[list[Any]]]

MAX_BATCH = 256


class GroupCommit(Generic[Item]):
    """Apply submitted items in shared transactions; each caller resumes only after its commit."""

    def __init__(self, engine: AsyncEngine, apply: Apply, autocommit: bool = False) -> None:
        """With `autocommit`, the writer opens no transaction: `apply` writes a batch in one statement, which the
        database commits as it runs it (no BEGIN and COMMIT round trips)."""
        self._engine = engine
        self._apply = apply
        self._autocommit = autocommit
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future[Any]] | None] = asyncio.Queue()  # None: stop
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        # The writer's connection, kept from one batch to the next while more wait (under load): no pool
        # check-out, nor PostgreSQL's ping, per batch. Given back when none waits, and after any failure.
        self._conn: AsyncConnection | None = None

    async def submit(self, item: Item) -> Any:
        """Write `item` and return what applying it returned, once it is committed."""
        if self._closed:
            raise RuntimeError("storage is shutting down")
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-commit")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def close(self, grace_seconds: float = 10.0) -> None:
        """Commit what was submitted (within the grace time), then stop the writer.

        Cancelling the writer in the middle of a commit would leave its connection holding the
        database's write lock (SQLite) until it is collected: it is stopped between batches instead.
        """
        self._closed = True
        if self._task is not None and not self._task.done():
            await self._queue.put(None)
            if not (await asyncio.wait({self._task}, timeout=grace_seconds))[0]:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        while not self._queue.empty():
            pair = self._queue.get_nowait()
            if pair is not None and not pair[1].done():
                pair[1].set_exception(RuntimeError("storage is shutting down"))
        await self._drop_connection()

    async def _drop_connection(self) -> None:
        """Give the writer's connection back to the pool (SQLAlchemy discards one that broke)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # a connection that broke may not close cleanly either: it is gone all the same
                pass

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[tuple[Item, asyncio.Future[Any]]] = []
            while not batch or (len(batch) < MAX_BATCH and not self._queue.empty()):
                pair = await self._queue.get()
                if pair is None:
                    stopping = True
                    break
                batch.append(pair)
            if not batch:
                continue
            try:
                await self._commit(batch)
            except Exception:
                # One bad item must not fail its neighbours: retry each in a transaction of its own.
                for pair in batch:
                    await self._commit([pair])
            if self._queue.empty():
                await self._drop_connection()

    async def _commit(self, batch: list[tuple[Item, asyncio.Future[Any]]]) -> None:
        pending = [(item, future) for item, future in batch if not future.done()]
        try:
            if self._conn is None:
                self._conn = await self._engine.connect()
                if self._autocommit:
                    await self._conn.execution_options(isolation_level="AUTOCOMMIT")
            async with self._conn.begin():  # under autocommit, SQLAlchemy's alone: the database sees no BEGIN
                results = await self._apply(self._conn, [item for item, _ in pending])
        except Exception as err:
            await self._drop_connection()
            if len(pending) > 1:
                raise
            for _, future in pending:
                if not future.done():  # its caller may have gone (a request timed out) during the commit
                    future.set_exception(err)
            return
        for (_, future), result in zip(pending, results, strict=True):
            if not future.done():
                future.set_result(result)
