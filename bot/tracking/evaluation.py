"""Judge sessions after their events are acknowledged, off the webhook's path: in passes over the sessions touched since the last."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Iterable

from .tracker import SessionTracker

_LOGGER = logging.getLogger(__name__)

# A pass starts this long after the first session touched for it, the queue idle or busy: a burst of one
# meeting's deliveries (a join storm, a webhook's retries) is judged once, not once per delivery, and under
# a stream of deliveries the passes stay large (each pass's reads and its commit serve more sessions).
PASS_GATHER_SECONDS = 0.02
# Sessions of a pass judged one after another and their writes committed in one transaction: one commit (one
# fsync) for them all, and none of them waits long for its notices to go out.
WRITTEN_TOGETHER = 32


class EvaluationQueue:
    """The sessions whose alerts need judging: each judged once per pass, one at a time, in the order first touched,
    the writes of up to WRITTEN_TOGETHER of them in one transaction.

    One at a time on purpose: judging is CPU and database writes, and a few at once on SQLite (measured with
    bench/restart.py) only made them wait for each other's write lock and slowed the start's other work.
    A session touched while it is judged is judged again in the next pass, with what came in.
    """

    def __init__(self, tracker: SessionTracker, gather_seconds: float = PASS_GATHER_SECONDS) -> None:
        self._tracker = tracker
        self._gather_seconds = gather_seconds
        self._waiting: dict[str, None] = {}  # touched since the last pass began, in order (a dict keeps it)
        self._first_touched = 0.0  # when the first of them was touched (time.monotonic)
        self._unjudged: set[str] = set()  # sessions of the pass under way not judged yet
        self._told: dict[str, asyncio.Future[bool]] = {}  # sessions someone waits for: whether their next judging succeeded
        self._touched = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def depth(self) -> int:
        """Return how many sessions wait to be judged, or are being judged now."""
        return len(self._waiting) + len(self._unjudged)

    def submit(self, session_id: str) -> None:
        """Ask for the session to be judged soon (once, however often it is asked before its pass)."""
        if not self._waiting:
            self._first_touched = time.monotonic()
        self._waiting[session_id] = None
        self._idle.clear()
        self._touched.set()

    def ask(self, session_ids: Iterable[str]) -> list[str]:
        """Ask for the sessions to be judged, except those waiting for a pass or in the pass under way (that judging serves)."""
        asked = list(dict.fromkeys(session_ids))
        for session_id in asked:
            if session_id not in self._waiting and session_id not in self._unjudged:
                self.submit(session_id)
        return asked

    async def judged(self, session_ids: Iterable[str]) -> set[str]:
        """Have the sessions judged once more and return those judged without failing (none once the queue stops).

        A session waiting for a pass, or in the pass under way, is not asked for again: that judging serves.
        """
        loop = asyncio.get_running_loop()
        told = {}
        for session_id in self.ask(session_ids):
            told[session_id] = self._told.setdefault(session_id, loop.create_future())
        if self._stopping:
            self._tell_all(False)
        await asyncio.gather(*told.values())
        return {session_id for session_id, outcome in told.items() if outcome.result()}

    def _tell(self, session_id: str, judged: bool) -> None:
        told = self._told.pop(session_id, None)
        if told is not None and not told.done():
            told.set_result(judged)

    def _tell_all(self, judged: bool) -> None:
        for session_id in list(self._told):
            self._tell(session_id, judged)

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
        self._tell_all(False)  # not judged here: the next start judges them

    async def _run(self) -> None:
        while not self._stopping:
            if not self._waiting:  # idle: wait for a session
                await self._touched.wait()
                if self._stopping:
                    return
            # A moment for the rest of its burst, counted from the first touch: sessions touched during a pass
            # longer than that have waited it already.
            if (gathering := self._first_touched + self._gather_seconds - time.monotonic()) > 0:
                await asyncio.sleep(gathering)
                if self._stopping:
                    return
            self._touched.clear()
            batch, self._waiting = list(self._waiting), {}
            self._unjudged = set(batch)
            await self._judge(batch)
            if not self._waiting:
                self._idle.set()

    async def _judge(self, batch: list[str]) -> None:
        """Judge the pass's sessions in turn, their writes committed a group at a time (until the queue is stopped: the
        next start judges the rest)."""
        for first in range(0, len(batch), WRITTEN_TOGETHER):
            if self._stopping:
                return
            group = batch[first:first + WRITTEN_TOGETHER]
            try:
                judged = await self._tracker.evaluate_many(group, stop=lambda: self._stopping)
            except Exception:  # keep judging other sessions; the next event retries these
                _LOGGER.exception("judging %d sessions failed", len(group))
                judged = set()
            for session_id in group:
                if session_id in judged or not self._stopping:  # one left when the queue stopped: the next start judges it
                    self._unjudged.discard(session_id)
                    self._tell(session_id, session_id in judged)
