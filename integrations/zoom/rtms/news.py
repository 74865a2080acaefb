"""Tell the other instances which streams to look at, on `companion_streams`, and hear what they tell (PostgreSQL only)."""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.cluster_link import ClusterLink, notify

_LOGGER = logging.getLogger(__name__)
STREAMS_CHANNEL = "companion_streams"  # session ids whose stream lease was released, or whose holder should look again


class StreamNews:
    """The `companion_streams` channel: session ids only; with no link (SQLite, one instance), nothing is sent or heard."""

    def __init__(self, engine: AsyncEngine, cluster: ClusterLink | None, look_at: Callable[[str], Awaitable[None]]) -> None:
        self._engine = engine
        self._cluster = cluster
        self._look_at = look_at
        self._hearing: set[asyncio.Task[None]] = set()
        if cluster is not None:
            cluster.listen(STREAMS_CHANNEL, self._heard)

    async def tell(self, session_ids: Sequence[str]) -> None:
        """Ask the other instances to look at these sessions' streams (at once, rather than at their next sweep)."""
        if self._cluster is None or not session_ids:
            return
        try:
            async with self._engine.begin() as conn:
                await notify(conn, STREAMS_CHANNEL, session_ids)
        except Exception as err:  # they find it by their sweep
            _LOGGER.warning("telling the other instances of %d RTMS stream(s) failed (%s)", len(session_ids), type(err).__name__)

    async def stop(self) -> None:
        for task in self._hearing:
            task.cancel()
        await asyncio.gather(*self._hearing, return_exceptions=True)

    def _heard(self, payload: str) -> None:
        task = asyncio.get_running_loop().create_task(self._each(payload.split(",")))
        self._hearing.add(task)
        task.add_done_callback(self._hearing.discard)

    async def _each(self, session_ids: Sequence[str]) -> None:
        for session_id in session_ids:
            try:
                await self._look_at(session_id)
            except Exception as err:  # the sweep finds it later
                _LOGGER.warning("looking at the RTMS stream of session %s failed (%s)", session_id, type(err).__name__)
