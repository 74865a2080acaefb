"""Keep one RTMS stream open per meeting that wants one, as the meeting's stored events say, on the instance holding its lease."""
from __future__ import annotations

import asyncio
import logging
from typing import Sequence

import aiohttp

from bot.core import events as ev
from bot.core.settings import ZoomSettings
from bot.metrics import Metrics
from bot.storage.cluster_link import ClusterLink
from bot.storage.store import session_id_for
from bot.storage.stream_leases import Lease, StreamLeases
from bot.tracking.evaluation import EvaluationQueue
from bot.tracking.frames import FramePipeline
from bot.tracking.tracker import SessionTracker

from ..const import PLATFORM
from .connection import Credentials
from .holding import StreamHolding
from .lifecycle import RtmsTiming, StreamPlan, stream_plan
from .news import StreamNews
from .runner import StreamParts, StreamRunner

_LOGGER = logging.getLogger(__name__)
# Stored events after which a meeting's stream, or whose video to follow, may have to change.
OPEN = ("connected", "following")  # a runner's states while its stream is connected
ENDED = ("closed", "refused", "failed", "lost")  # a runner's states once it holds no socket and tries no more
SOCKETS_PER_STREAM = 2  # signaling and media
RELEVANT = (ev.MeetingStarted, ev.MeetingEnded, ev.ParticipantJoined, ev.ParticipantLeft, ev.StreamStarted, ev.StreamStopped, ev.StreamInterrupted)


def rtms_http(max_streams: int) -> aiohttp.ClientSession:
    """Return the HTTP session for the RTMS sockets: two a stream, a tenth spare for reconnects, no cap per server."""
    limit = SOCKETS_PER_STREAM * max_streams + max_streams // 10 + 16
    # One RTMS server may carry every stream, so limit_per_host stays off (0) and the total is the only cap.
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit, limit_per_host=0))


class StreamManager:
    """The app's RTMS streams: opened, restarted and closed as each meeting's stored events say.

    Only the instance holding a stream's lease connects to it (bot/storage/stream_leases.py); the others leave
    it alone, and take it over once its lease lapses (its holder died). With a `cluster` link, an instance tells
    the others on `companion_streams` of the streams it released, and of those whose webhook it stored but another holds.
    """

    def __init__(
        self,
        settings: ZoomSettings,
        tracker: SessionTracker,
        evaluation: EvaluationQueue,
        frames: FramePipeline,
        http: aiohttp.ClientSession,
        timing: RtmsTiming,
        metrics: Metrics,
        leases: StreamLeases,
        failover_seconds: float,
        cluster: ClusterLink | None = None,
    ) -> None:
        credentials = Credentials(settings.rtms_client_id, settings.rtms_client_secret)
        self.parts = StreamParts(http, credentials, settings.rtms_fps, timing, tracker, evaluation, frames, metrics)
        self._runners: dict[str, StreamRunner] = {}
        self._max_streams = settings.rtms_max_streams
        self._refused: set[str] = set()  # occurrences whose stream was asked beyond rtms_max_streams
        metrics.rtms_streams_open.set_function(self.open_streams)
        metrics.rtms_streams_owned.set_function(self.owned_streams)
        self.holding = StreamHolding(leases, failover_seconds, self._leases_held, self._leases_lost, self._sweep)
        self.news = StreamNews(tracker.store.engine, cluster, self._look_at)
        self._tell: set[str] = set()  # occurrences whose holder, if another instance, should hear of their stored events
        if cluster is not None:
            cluster.when_linked(self._linked)
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
        self.holding.start()

    async def stop(self) -> None:
        """Close every stream and release its lease, telling the other instances to take them at once."""
        await self.holding.stop()
        await self.news.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        runners = list(self._runners.values())
        self._runners.clear()
        await asyncio.gather(*(runner.stop() for runner in runners))
        await self._release([r for r in runners if r.state != "lost"])

    def stored(self, meeting: ev.MeetingRef, events: Sequence[ev.MeetingEvent]) -> None:
        """React to a webhook's stored events (a StoredEvents listener); never waits."""
        if self.enabled and meeting.platform == PLATFORM and any(isinstance(e, RELEVANT) for e in events):
            self.reconcile(meeting.occurrence_id, tell=True)

    def reconcile(self, occurrence_id: str, tell: bool = False) -> None:
        """Ask for the meeting's stream to be brought in line with its stored events (`tell`: and its holder, if another)."""
        if tell:
            self._tell.add(occurrence_id)
        if occurrence_id not in self._waiting:
            self._waiting.add(occurrence_id)
            self._queue.put_nowait(occurrence_id)

    async def settle(self) -> None:
        """Wait until every reconcile asked for so far has been applied."""
        await self._queue.join()

    def open_streams(self) -> int:
        """Return how many streams are connected now."""
        return sum(runner.state in OPEN for runner in self._runners.values())

    def owned_streams(self) -> int:
        """Return how many streams this instance holds the lease of."""
        return len(self._leases_held())

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
        tell = occurrence_id in self._tell
        self._tell.discard(occurrence_id)
        plan = stream_plan(await self.parts.tracker.store.session_events(row.meeting))
        runner = self._runners.get(occurrence_id)
        lease = runner.lease if runner is not None else None
        if runner is not None and runner.state == "lost":  # another instance's now: this one's runner is done
            await self._runners.pop(occurrence_id).stop()
            runner, lease = None, None
        if plan is None or (runner is not None and runner.plan.stream.stream_id != plan.stream.stream_id):
            if runner is not None:
                _LOGGER.info("closing RTMS stream %s of session %s", runner.plan.stream.stream_id, row.id)
                await self._runners.pop(occurrence_id).stop()
                runner = None
                self._retry_refused()
        if plan is None:
            self._refused.discard(occurrence_id)
            if lease is not None:
                await self.holding.leases.release(lease)
            return
        if runner is None:
            if self.active_streams() >= self._max_streams:
                self._refuse(occurrence_id, row.id, plan)
                return
            self._refused.discard(occurrence_id)
            lease = lease or await self.holding.leases.take(row.id, self.holding.seconds)
            if lease is None:  # another live instance holds it: that one connects, and hears of the events stored here
                if tell:
                    await self.news.tell([row.id])
                return
            self._runners[occurrence_id] = StreamRunner(self.parts, row, plan, lease, lambda: self.reconcile(occurrence_id))
            self._runners[occurrence_id].start(wait_first=False)
            if lease.epoch > 1:  # taken over: its holder may have died with events stored and not yet judged
                self.parts.evaluation.submit(row.id)
        elif plan.asked_at > runner.plan.asked_at:
            _LOGGER.info("RTMS stream %s of session %s asked to reconnect", plan.stream.stream_id, row.id)
            await runner.restart(plan)
        else:
            runner.follow_client()

    def _leases_held(self) -> list[Lease]:
        return [runner.lease for runner in self._runners.values() if runner.state != "lost"]

    async def _leases_lost(self, leases: Sequence[Lease]) -> None:
        """Stop at once the streams whose leases are gone (taken, or lapsed while the database was away)."""
        gone = {lease.session_id for lease in leases}
        for runner in self._runners.values():
            if runner.row.id in gone:
                runner.lose()

    async def _sweep(self) -> None:
        """Take the open streams whose lease lapsed (their holder died) or that no instance took."""
        occurrences = {session_id_for(PLATFORM, o): o for o in await self.parts.tracker.store.open_stream_occurrences(PLATFORM)}
        mine = {lease.session_id for lease in self._leases_held()}
        for session_id in await self.holding.leases.unheld([s for s in occurrences if s not in mine]):
            self.reconcile(occurrences[session_id])

    async def _release(self, runners: Sequence[StreamRunner]) -> None:
        for runner in runners:
            try:
                await self.holding.leases.release(runner.lease)
            except Exception as err:  # it lapses by itself within failover_seconds
                _LOGGER.warning("releasing the RTMS stream lease of session %s failed (%s)", runner.row.id, type(err).__name__)
        await self.news.tell([runner.row.id for runner in runners])

    async def _look_at(self, session_id: str) -> None:
        if (row := await self.parts.tracker.store.session(session_id)) is not None and row.platform == PLATFORM:
            self.reconcile(row.occurrence_id)

    async def _linked(self, linked: bool) -> None:
        """Once linked again, look at every stream held or unheld: notifications sent meanwhile are gone."""
        if linked and self._task is not None:
            for occurrence_id in list(self._runners):
                self.reconcile(occurrence_id)
            await self._sweep()

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
