"""Keep one RTMS connection per meeting that wants one, record camera changes, and follow the client's video."""
from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Sequence

import aiohttp

from bot import events as ev
from bot.evaluation import EvaluationQueue
from bot.frames import FramePipeline
from bot.settings import ZoomSettings
from bot.store import SessionRow
from bot.tracking import SessionTracker

from . import protocol as p
from .connection import Credentials, Listener, RtmsConnection, RtmsRefused, StreamAddress, StreamLost
from .lifecycle import RtmsTiming, StreamPlan, stream_plan

_LOGGER = logging.getLogger(__name__)
PLATFORM = "zoom"
# Stored events after which a meeting's stream, or whose video to follow, may have to change.
RELEVANT = (ev.MeetingStarted, ev.MeetingEnded, ev.ParticipantJoined, ev.ParticipantLeft, ev.StreamStarted, ev.StreamStopped, ev.StreamInterrupted)
VIDEO_EVENTS = {p.PARTICIPANT_VIDEO_ON: True, p.PARTICIPANT_VIDEO_OFF: False}


def event_key(meeting: ev.MeetingRef, update: p.ParticipantUpdate) -> str:
    """Return the storage key of a camera change: the same when a reconnect replays it."""
    basis = f"{meeting.occurrence_id}:{update.event_type}:{update.at_ms}:{update.rtms_id}"
    return "rtms:" + hashlib.sha256(basis.encode()).hexdigest()


class StreamManager:
    """The app's RTMS streams: opened, restarted and closed as each meeting's stored events say."""

    def __init__(
        self,
        settings: ZoomSettings,
        tracker: SessionTracker,
        evaluation: EvaluationQueue,
        frames: FramePipeline,
        http: aiohttp.ClientSession,
        timing: RtmsTiming = RtmsTiming(),
    ) -> None:
        self.credentials = Credentials(settings.rtms_client_id, settings.rtms_client_secret)
        self.fps = settings.rtms_fps
        self.tracker = tracker
        self.evaluation = evaluation
        self.frames = frames
        self.http = http
        self.timing = timing
        self._runners: dict[str, StreamRunner] = {}
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._waiting: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.credentials.client_id and self.credentials.client_secret)

    async def start(self) -> None:
        """Start reconciling, and resume the streams of meetings that were live when the service stopped."""
        if not self.enabled:
            _LOGGER.warning(
                "[zoom] rtms_client_id or rtms_client_secret is not set: the client's video is NOT tracked "
                "(RTMS webhooks are still stored)"
            )
            return
        self._task = asyncio.create_task(self._run(), name="rtms-streams")
        for occurrence_id in await self.tracker.store.open_stream_occurrences(PLATFORM):
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

    def runner(self, session_id: str) -> StreamRunner | None:
        return next((r for r in self._runners.values() if r.row.id == session_id), None)

    async def _run(self) -> None:
        while True:
            occurrence_id = await self._queue.get()
            self._waiting.discard(occurrence_id)
            try:
                await self._apply(occurrence_id)
            except Exception:  # keep serving other meetings; the next event retries this one
                _LOGGER.exception("reconciling the RTMS stream of zoom meeting occurrence failed (session unknown)")
            finally:
                self._queue.task_done()

    async def _apply(self, occurrence_id: str) -> None:
        row = await self.tracker.store.session_for_occurrence(PLATFORM, occurrence_id)
        if row is None:  # no therapist's session (yet): nothing to watch
            return
        plan = stream_plan(await self.tracker.store.session_events(row.meeting))
        runner = self._runners.get(occurrence_id)
        if plan is None or (runner is not None and runner.plan.stream.stream_id != plan.stream.stream_id):
            if runner is not None:
                _LOGGER.info("closing RTMS stream %s of session %s", runner.plan.stream.stream_id, row.id)
                await self._runners.pop(occurrence_id).stop()
                runner = None
        if plan is None:
            return
        if runner is None:
            self._runners[occurrence_id] = StreamRunner(self, row, plan)
            self._runners[occurrence_id].start(wait_first=False)
        elif plan.asked_at > runner.plan.asked_at:
            _LOGGER.info("RTMS stream %s of session %s asked to reconnect", plan.stream.stream_id, row.id)
            await runner.restart(plan)
        else:
            runner.follow_client()


_CHECK_CLIENT = None


class StreamRunner:
    """One meeting's stream: reconnects with backoff, records camera changes in order, follows the client."""

    def __init__(self, manager: StreamManager, row: SessionRow, plan: StreamPlan) -> None:
        self.m = manager
        self.row = row
        self.plan = plan
        self.state = "starting"
        self.problem = ""
        self._connection: RtmsConnection | None = None
        self._updates: asyncio.Queue[list[p.ParticipantUpdate] | None] = asyncio.Queue()
        self._present: dict[str, int | str] = {}  # RTMS ids of who is in the meeting, by their text form
        self._following: str | None = None
        self._connects = 0
        self._link: asyncio.Task[None] | None = None
        self._worker = asyncio.create_task(self._work(), name=f"rtms-events-{row.id}")

    def start(self, wait_first: bool) -> None:
        self._link = asyncio.create_task(self._connect_loop(wait_first), name=f"rtms-link-{self.row.id}")

    async def restart(self, plan: StreamPlan) -> None:
        """Drop the current connection and reconnect with backoff to the (possibly new) server."""
        await self._stop_link()
        self.plan = plan
        self.start(wait_first=True)

    async def stop(self) -> None:
        await self._stop_link()
        self._worker.cancel()
        await asyncio.gather(self._worker, return_exceptions=True)
        self.state = "closed"

    def _connected(self) -> None:
        self.state, self.problem = "connected", ""
        self.follow_client()

    def follow_client(self) -> None:
        """Check soon whether the video subscription still points at the client."""
        self._updates.put_nowait(_CHECK_CLIENT)

    async def _stop_link(self) -> None:
        if self._link is not None:
            self._link.cancel()
            await asyncio.gather(self._link, return_exceptions=True)
            self._link = None

    async def _connect_loop(self, wait_first: bool) -> None:
        stream = self.plan.stream
        address = StreamAddress(self.row.occurrence_id, stream.stream_id, stream.server_url)
        delays = self.m.timing.backoff.delays()
        if wait_first and not await self._wait(next(delays, None)):
            return
        while True:
            self._connects += 1
            listener = Listener(self._connected, self._updates.put_nowait, self.m.frames.put)
            connection = RtmsConnection(self.m.http, self.m.credentials, address, self.row.id, self.m.fps, self.m.timing, listener, self._connects)
            self._connection, self.state = connection, "connecting"
            try:
                await connection.run()
                self.state = "closed"
                _LOGGER.info("RTMS stream %s of session %s closed by Zoom", stream.stream_id, self.row.id)
                return
            except RtmsRefused as err:
                self.state, self.problem = "refused", str(err)
                _LOGGER.error("RTMS stream %s of session %s: %s", stream.stream_id, self.row.id, err)
                return
            except StreamLost as err:
                self.problem = str(err)
                _LOGGER.warning("RTMS stream %s of session %s lost: %s", stream.stream_id, self.row.id, err)
            finally:
                self._connection, self._following = None, None
            if connection.was_ready:
                delays = self.m.timing.backoff.delays()  # it worked: the next failure starts the backoff afresh
            if not await self._wait(next(delays, None)):
                return

    async def _wait(self, delay: float | None) -> bool:
        if delay is None:
            self.state = "failed"
            _LOGGER.error("RTMS stream %s of session %s: giving up after %d attempts", self.plan.stream.stream_id, self.row.id, self._connects)
            return False
        self.state = "reconnecting"
        await asyncio.sleep(delay)
        return True

    async def _work(self) -> None:
        while True:
            updates = await self._updates.get()
            try:
                if updates is not _CHECK_CLIENT:
                    await self._record(updates)
                await self._follow_client()
            except Exception:  # a storage hiccup must not end the stream; the next event tries again
                _LOGGER.exception("RTMS stream %s of session %s: handling an event failed", self.plan.stream.stream_id, self.row.id)

    async def _record(self, updates: list[p.ParticipantUpdate]) -> None:
        for update in updates:
            if update.event_type == p.PARTICIPANT_JOIN:
                self._present[str(update.rtms_id)] = update.rtms_id
            elif update.event_type == p.PARTICIPANT_LEAVE:
                self._present.pop(str(update.rtms_id), None)
        meeting = self.row.meeting
        keyed = [
            (event_key(meeting, u), ev.VideoStateChanged(meeting=meeting, at=u.at, participant=u.ref, on=VIDEO_EVENTS[u.event_type]))
            for u in updates
            if u.event_type in VIDEO_EVENTS
        ]
        if keyed:
            session_id = await self.m.tracker.record(meeting, keyed)
            if session_id is not None:
                self.m.evaluation.submit(session_id)

    async def _follow_client(self) -> None:
        connection = self._connection
        if connection is None or not connection.ready:
            return
        target = await self._client_rtms_id()
        if target is None or str(target) == self._following:
            return
        if await connection.subscribe_video(target):
            self._following = str(target)
            self.state = "following"
            _LOGGER.info("RTMS stream %s of session %s: following the client's video (RTMS user %s)", self.plan.stream.stream_id, self.row.id, target)

    async def _client_rtms_id(self) -> int | str | None:
        """Return the client's current RTMS user id: their latest join that RTMS also reports present."""
        client = (await self.m.tracker.view(self.row)).state.roster.client
        ids = [ref.user_id for ref in client.refs if ref.user_id] if client else []
        if not ids:
            return None
        chosen = next((i for i in reversed(ids) if i in self._present), ids[-1])
        # RTMS names people by number in meetings; send the server's own type back when we have seen it.
        return self._present.get(chosen, int(chosen) if chosen.isdigit() else chosen)
