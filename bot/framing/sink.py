"""The frame sink that feeds the framing analysis and each session's detector, and stores the changes it settles."""
from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import timedelta

from bot.core.events import FramingChanged, MeetingRef
from bot.core.framing import FramingSettings
from bot.core.framing_changes import FramingChange, FramingChangeDetector
from bot.tracking.evaluation import EvaluationQueue
from bot.tracking.frames import Frame
from bot.tracking.tracker import SessionTracker

from .analyzer import FramingAnalyzer

_LOGGER = logging.getLogger(__name__)
FORGET_AFTER = timedelta(hours=2)  # a session without frames this long has ended or lost its stream: free its detector


def change_key(meeting: MeetingRef, change: FramingChange) -> str:
    """Return the storage key of a framing change: the same when a replayed stretch of frames settles it again."""
    basis = f"{meeting.occurrence_id}:{change.change}:{change.at.isoformat()}"
    return "framing:" + hashlib.sha256(basis.encode()).hexdigest()


class FramingSink:
    """Analyse frames in the pool (as many at once as it has room for), detect per session, store the changes."""

    def __init__(self, analyzer: FramingAnalyzer, settings: FramingSettings, tracker: SessionTracker, evaluation: EvaluationQueue) -> None:
        self.analyzer = analyzer
        self.settings = settings
        self.tracker = tracker
        self.evaluation = evaluation
        self._detectors: dict[str, FramingChangeDetector] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # Waiting here (not queueing in the pool) lets the pipeline's queue drop the oldest frames when we lag.
        self._room = asyncio.Semaphore(analyzer.capacity)
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, frame: Frame) -> None:
        """Start analysing the frame once the pool has room; never waits for the analysis itself."""
        await self._room.acquire()
        task = asyncio.create_task(self._analyse(frame), name="framing-frame")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every frame handed over so far has been analysed and its changes stored."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.analyzer.stop()

    async def _analyse(self, frame: Frame) -> None:
        try:
            seen = await self.analyzer.analyse(frame.jpeg)
        finally:
            self._room.release()
        if seen is None:
            return
        # One session's frames are judged one at a time, in the order their analyses finish (older ones are ignored).
        async with self._locks.setdefault(frame.session_id, asyncio.Lock()):
            detector = self._detectors.setdefault(frame.session_id, FramingChangeDetector(self.settings))
            changes = detector.observe(frame.at, seen)
            if changes:
                try:
                    await self._store(frame.session_id, changes)
                except Exception:  # a storage hiccup costs these changes, not the analysis of later frames
                    _LOGGER.exception("framing changes of session %s could not be stored", frame.session_id)
        self._forget_idle(frame)

    async def _store(self, session_id: str, changes: list[FramingChange]) -> None:
        row = await self.tracker.store.session(session_id)
        if row is None:
            return
        meeting = row.meeting
        keyed = [
            (change_key(meeting, c), FramingChanged(meeting=meeting, at=c.at, change=c.change, detail=c.detail, source="analysis"))
            for c in changes
        ]
        recorded = await self.tracker.record(meeting, keyed)
        if recorded.session_id is not None:
            self.evaluation.submit(recorded.session_id)
        _LOGGER.info("framing of session %s: %d change(s) stored", session_id, len(changes))  # what the client did stays out of the log

    def _forget_idle(self, frame: Frame) -> None:
        idle = [s for s, d in self._detectors.items() if d.last_at is not None and frame.at - d.last_at > FORGET_AFTER]
        for session_id in idle:
            del self._detectors[session_id]
            self._locks.pop(session_id, None)
