"""Judge sessions after their events are acknowledged, off the webhook's path: in passes over the sessions touched since the last."""
from __future__ import annotations

import asyncio
import logging

from .tracker import SessionTracker

_LOGGER = logging.getLogger(__name__)

# A pass starts this long after the first session touched while the queue was idle: a burst of one
# meeting's deliveries (a join storm, a webhook's retries) is judged once, not once per delivery.
PASS_GATHER_SECONDS = 0.02


class EvaluationQueue:
    """The sessions whose alerts need judging: each judged once per pass, one at a time, in the order first touched.

    One at a time on purpose: judging is CPU and database writes, and a few at once on SQLite (measured with
    bench/restart.py) only made them wait for each other's write lock and slowed the start's other work.
    A session touched while it is judged is judged again in the next pass, with what came in.
    """

    def __init__(self, tracker: SessionTracker, gather_seconds: float = PASS_GATHER_SECONDS) -> None:
        self._tracker = tracker
        self._gather_seconds = gather_seconds
        self._waiting: dict[str, None] = {}  # touched since the last pass began, in order (a dict keeps it)
        self._judging = 0  # sessions of the pass under way not judged yet
        self._touched = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def depth(self) -> int:
        """Return how many sessions wait to be judged, or are being judged now."""
        return len(self._waiting) + self._judging

    def submit(self, session_id: str) -> None:
        """Ask for the session to be judged soon (once, however often it is asked before its pass)."""
        self._waiting[session_id] = None
        self._idle.clear()
        self._touched.set()

    async def drain(self) -> None:
        """Wait until every submitted session has been judged."""
        await self._idle.wait()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="session-evaluation")

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Finish the sessions being judged (within the grace time) and stop; the next start judges the rest."""
        if self._task is None:
            return
        self._stopping = True
        self._touched.set()
        if not (await asyncio.wait({self._task}, timeout=grace_seconds))[0]:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            if not self._waiting:  # idle: wait for a session, then a moment for the rest of its burst
                await self._touched.wait()
                if self._stopping:
                    return
                await asyncio.sleep(self._gather_seconds)
                if self._stopping:
                    return
            self._touched.clear()
            batch, self._waiting = list(self._waiting), {}
            self._judging = len(batch)
            await self._judge(batch)
            if not self._waiting:
                self._idle.set()

    async def _judge(self, batch: list[str]) -> None:
        """Judge the pass's sessions in turn (until the queue is stopped: the next start judges the rest)."""
        for session_id in batch:
            if self._stopping:
                return
            try:
                await self._tracker.evaluate(session_id)
            except Exception:  # keep judging other sessions; the next event retries this one
                _LOGGER.exception("judging session %s failed", session_id)
            finally:
                self._judging -= 1
