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

    def __init__(self, engine: AsyncEngine, apply: Apply) -> None:
        self._engine = engine
        self._apply = apply
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future[Any]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Any:
        """Write `item` and return what applying it returned, once it is committed."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-commit")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def close(self) -> None:
        """Stop the writer; callers still waiting get an error, nothing half-written is committed."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(RuntimeError("storage is shutting down"))

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._commit(batch)
            except Exception:
                # One bad item must not fail its neighbours: retry each in a transaction of its own.
                for pair in batch:
                    await self._commit([pair])

    async def _commit(self, batch: list[tuple[Item, asyncio.Future[Any]]]) -> None:
        pending = [(item, future) for item, future in batch if not future.done()]
        try:
            async with self._engine.begin() as conn:
                results = await self._apply(conn, [item for item, _ in pending])
        except Exception as err:
            if len(pending) > 1:
                raise
            for _, future in pending:
                future.set_exception(err)
            return
        for (_, future), result in zip(pending, results):
            if not future.done():
                future.set_result(result)
