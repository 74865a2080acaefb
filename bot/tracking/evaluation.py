"""Judge sessions after their events are acknowledged, off the webhook's path, one at a time."""
from __future__ import annotations

import asyncio
import logging

from .tracker import SessionTracker

_LOGGER = logging.getLogger(__name__)


class EvaluationQueue:
    """A queue of sessions whose alerts need judging; a session waiting already is not queued twice."""

    def __init__(self, tracker: SessionTracker) -> None:
        self._tracker = tracker
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()  # None wakes the worker to stop
        self._waiting: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

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

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Finish the session being judged (within the grace time) and stop; the next start judges the rest."""
        if self._task is None:
            return
        self._stopping = True
        self._queue.put_nowait(None)
        if not (await asyncio.wait({self._task}, timeout=grace_seconds))[0]:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            session_id = await self._queue.get()
            if session_id is None or self._stopping:
                self._queue.task_done()
                return
            self._waiting.discard(session_id)
            try:
                await self._tracker.evaluate(session_id)
            except Exception:  # keep judging other sessions; the next event retries this one
                _LOGGER.exception("judging session %s failed", session_id)
            finally:
                self._queue.task_done()
