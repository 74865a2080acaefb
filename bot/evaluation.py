"""Judge sessions after their events are acknowledged, off the webhook's path, one at a time."""
from __future__ import annotations

import asyncio
import logging

from .tracking import SessionTracker

_LOGGER = logging.getLogger(__name__)


class EvaluationQueue:
    """A queue of sessions whose alerts need judging; a session waiting already is not queued twice."""

    def __init__(self, tracker: SessionTracker) -> None:
        self._tracker = tracker
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._waiting: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def submit(self, session_id: str) -> None:
        """Ask for the session to be judged soon."""
        if session_id not in self._waiting:
            self._waiting.add(session_id)
            self._queue.put_nowait(session_id)

    async def drain(self) -> None:
        """Wait until every submitted session has been judged."""
        await self._queue.join()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="session-evaluation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            session_id = await self._queue.get()
            self._waiting.discard(session_id)
            try:
                await self._tracker.evaluate(session_id)
            except Exception:  # keep judging other sessions; the next event retries this one
                _LOGGER.exception("judging session %s failed", session_id)
            finally:
                self._queue.task_done()
