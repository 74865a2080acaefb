"""Keep one RTMS stream open per meeting that wants one, as the meeting's stored events say."""
from __future__ import annotations

import asyncio
import logging
from typing import Sequence

import aiohttp

from bot.core import events as ev
from bot.core.settings import ZoomSettings
from bot.metrics import Metrics
from bot.tracking.evaluation import EvaluationQueue
from bot.tracking.frames import FramePipeline
from bot.tracking.tracker import SessionTracker

from ..const import PLATFORM
from .connection import Credentials
from .lifecycle import RtmsTiming, StreamPlan, stream_plan
from .runner import StreamParts, StreamRunner

_LOGGER = logging.getLogger(__name__)
# Stored events after which a meeting's stream, or whose video to follow, may have to change.
OPEN = ("connected", "following")  # a runner's states while its stream is connected
ENDED = ("closed", "refused", "failed")  # a runner's states once it holds no socket and tries no more
SOCKETS_PER_STREAM = 2  # signaling and media
RELEVANT = (ev.MeetingStarted, ev.MeetingEnded, ev.ParticipantJoined, ev.ParticipantLeft, ev.StreamStarted, ev.StreamStopped, ev.StreamInterrupted)


def rtms_http(max_streams: int) -> aiohttp.ClientSession:
    """Return the HTTP session for the RTMS sockets: two a stream, a tenth spare for reconnects, no cap per server."""
    limit = SOCKETS_PER_STREAM * max_streams + max_streams // 10 + 16
    # One RTMS server may carry every stream, so limit_per_host stays off (0) and the total is the only cap.
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit, limit_per_host=0))


class StreamManager:
    """The app's RTMS streams: opened, restarted and closed as each meeting's stored events say."""

    def __init__(
        self,
        settings: ZoomSettings,
        tracker: SessionTracker,
        evaluation: EvaluationQueue,
        frames: FramePipeline,
        http: aiohttp.ClientSession,
        timing: RtmsTiming,
        metrics: Metrics,
    ) -> None:
        credentials = Credentials(settings.rtms_client_id, settings.rtms_client_secret)
        self.parts = StreamParts(http, credentials, settings.rtms_fps, timing, tracker, evaluation, frames, metrics)
        self._runners: dict[str, StreamRunner] = {}
        self._max_streams = settings.rtms_max_streams
        self._refused: set[str] = set()  # occurrences whose stream was asked beyond rtms_max_streams
        metrics.rtms_streams_open.set_function(self.open_streams)
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._waiting: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.parts.credentials.client_id and self.parts.credentials.client_secret)

    async def start(self) -> None:
        """Start reconciling, and resume the streams of meetings that were live when the service stopped."""
        if not self.enabled:
            _LOGGER.warning(
                "[zoom] rtms_client_id or rtms_client_secret is not set: the client's video is NOT tracked "
                "(RTMS webhooks are still stored)"
            )
            return
        self._task = asyncio.create_task(self._run(), name="rtms-streams")
        for occurrence_id in await self.parts.tracker.store.open_stream_occurrences(PLATFORM):
            self.reconcile(occurrence_id)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.gather(*(runner.stop() for runner in self._runners.values()))
        self._runners.clear()

    def stored(self, meeting: ev.MeetingRef, events: Sequence[ev.MeetingEvent]) -> None:
        """React to a webhook's stored events (a StoredEvents listener); never waits."""
        if self.enabled and meeting.platform == PLATFORM and any(isinstance(e, RELEVANT) for e in events):
            self.reconcile(meeting.occurrence_id)

    def reconcile(self, occurrence_id: str) -> None:
        """Ask for the meeting's stream to be brought in line with its stored events."""
        if occurrence_id not in self._waiting:
            self._waiting.add(occurrence_id)
            self._queue.put_nowait(occurrence_id)

    async def settle(self) -> None:
        """Wait until every reconcile asked for so far has been applied."""
        await self._queue.join()

    def open_streams(self) -> int:
        """Return how many streams are connected now."""
        return sum(runner.state in OPEN for runner in self._runners.values())

    def active_streams(self) -> int:
        """Return how many streams are connected or trying to connect: what rtms_max_streams counts."""
        return sum(runner.state not in ENDED for runner in self._runners.values())

    def runner(self, session_id: str) -> StreamRunner | None:
        return next((r for r in self._runners.values() if r.row.id == session_id), None)

    async def _run(self) -> None:
        while True:
            occurrence_id = await self._queue.get()
            self._waiting.discard(occurrence_id)
            try:
                await self._apply(occurrence_id)
            except Exception:  # keep serving other meetings; the next event retries this one
                _LOGGER.exception("reconciling the RTMS stream of Zoom meeting occurrence %s failed", occurrence_id)
            finally:
                self._queue.task_done()

    async def _apply(self, occurrence_id: str) -> None:
        row = await self.parts.tracker.store.session_for_occurrence(PLATFORM, occurrence_id)
        if row is None:  # no therapist's session (yet): nothing to watch
            return
        plan = stream_plan(await self.parts.tracker.store.session_events(row.meeting))
        runner = self._runners.get(occurrence_id)
        if plan is None or (runner is not None and runner.plan.stream.stream_id != plan.stream.stream_id):
            if runner is not None:
                _LOGGER.info("closing RTMS stream %s of session %s", runner.plan.stream.stream_id, row.id)
                await self._runners.pop(occurrence_id).stop()
                runner = None
                self._retry_refused()
        if plan is None:
            self._refused.discard(occurrence_id)
            return
        if runner is None:
            if self.active_streams() >= self._max_streams:
                self._refuse(occurrence_id, row.id, plan)
                return
            self._refused.discard(occurrence_id)
            self._runners[occurrence_id] = StreamRunner(self.parts, row, plan)
            self._runners[occurrence_id].start(wait_first=False)
        elif plan.asked_at > runner.plan.asked_at:
            _LOGGER.info("RTMS stream %s of session %s asked to reconnect", plan.stream.stream_id, row.id)
            await runner.restart(plan)
        else:
            runner.follow_client()

    def _refuse(self, occurrence_id: str, session_id: str, plan: StreamPlan) -> None:
        """Leave the stream unopened, saying so (and counting it) once per meeting until it opens."""
        if occurrence_id in self._refused:
            return
        self._refused.add(occurrence_id)
        self.parts.metrics.rtms_streams_refused.inc()
        _LOGGER.error(
            "RTMS stream %s of session %s refused: %d streams are open or opening, [zoom] rtms_max_streams is %d "
            "(the client's video is NOT tracked until one closes)",
            plan.stream.stream_id, session_id, self.active_streams(), self._max_streams,
        )

    def _retry_refused(self) -> None:
        """A stream closed: the meetings refused for want of room may open theirs now."""
        for occurrence_id in sorted(self._refused):
            self.reconcile(occurrence_id)
