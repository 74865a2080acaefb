"""One meeting's RTMS stream: reconnect with backoff, record camera changes in order, follow the client's video."""
from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import aiohttp

from bot.core import events as ev
from bot.core.session import MeetingState
from bot.core.validity import believable
from bot.metrics import Metrics
from bot.storage.store import SessionRow
from bot.storage.stream_leases import Lease, LeaseLost
from bot.tracking.evaluation import EvaluationQueue
from bot.tracking.frames import Frame, FramePipeline
from bot.tracking.tracker import SessionTracker

from . import protocol as p
from .camera import CameraEvidence, CameraSeenOn
from .connection import (
    Credentials,
    Listener,
    RtmsConnection,
    RtmsRefused,
    StreamAddress,
    StreamLost,
)
from .lifecycle import RtmsTiming, StreamPlan

_LOGGER = logging.getLogger(__name__)
VIDEO_EVENTS = {p.PARTICIPANT_VIDEO_ON: True, p.PARTICIPANT_VIDEO_OFF: False}


def event_key(meeting: ev.MeetingRef, update: p.ParticipantUpdate) -> str:
    """Return the storage key of a camera change: the same when a reconnect replays it."""
    basis = f"{meeting.occurrence_id}:{update.event_type}:{update.at_ms}:{update.rtms_id}"
    return "rtms:" + hashlib.sha256(basis.encode()).hexdigest()


_CHECK_CLIENT = None


@dataclass(frozen=True)
class StreamParts:
    """What every meeting's stream works with: how to connect, and the service parts it reports to."""

    http: aiohttp.ClientSession
    credentials: Credentials
    fps: int
    timing: RtmsTiming
    tracker: SessionTracker
    evaluation: EvaluationQueue
    frames: FramePipeline
    metrics: Metrics


class StreamRunner:
    """One meeting's stream, held under `lease`: reconnects with backoff, records camera changes in order, follows the client.

    Once a write finds the lease another instance's, it stops at once (state "lost") and calls `lost`.
    """

    def __init__(self, parts: StreamParts, row: SessionRow, plan: StreamPlan, lease: Lease, lost: Callable[[], None]) -> None:
        self.parts = parts
        self.row = row
        self.plan = plan
        self.lease = lease
        self._lost = lost
        self.state = "starting"
        self.problem = ""
        self._connection: RtmsConnection | None = None
        self._updates: asyncio.Queue[list[p.ParticipantUpdate] | CameraSeenOn | None] = asyncio.Queue()
        self._present: dict[str, int | str] = {}  # RTMS ids of who is in the meeting, by their text form
        self._following: str | None = None
        self._camera = CameraEvidence()
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
        """Close the connection, store the camera changes already received, then stop."""
        await self._stop_link()
        try:
            async with asyncio.timeout(5):
                await self.settle()
        except TimeoutError:
            _LOGGER.warning("RTMS stream %s of session %s: stopped with camera changes unstored", self.plan.stream.stream_id, self.row.id)
        self._worker.cancel()
        await asyncio.gather(self._worker, return_exceptions=True)
        if self.state != "lost":
            self.state = "closed"

    def lose(self) -> None:
        """Stop at once: the lease is another instance's now (whatever is still queued is not written)."""
        if self.state != "lost":
            self.state = "lost"
            if self._link is not None:
                self._link.cancel()
            self._lost()

    async def settle(self) -> None:
        """Wait until the camera changes received so far (and those frames proved) are stored."""
        await self._updates.join()

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
        delays = self.parts.timing.backoff.delays()
        if wait_first and not await self._wait(next(delays, None)):
            return
        while True:
            self._connects += 1
            if self._connects > 1:
                self.parts.metrics.rtms_reconnects.inc()
            listener = Listener(self._connected, self._updates.put_nowait, self._frame)
            connection = RtmsConnection(self.parts.http, self.parts.credentials, address, self.row.id, self.parts.fps, self.parts.timing, listener, self._connects)
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
                delays = self.parts.timing.backoff.delays()  # it worked: the next failure starts the backoff afresh
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

    def _frame(self, frame: Frame) -> None:
        """Pass the frame on; queue the 'video on' it proves if the client's camera is stored as off (never waits)."""
        self.parts.frames.put(frame)
        if (seen := self._camera.frame(frame.user_id, frame.at)) is not None:
            self._updates.put_nowait(seen)

    async def _work(self) -> None:
        while True:
            item = await self._updates.get()
            try:
                if self.state == "lost":
                    continue
                if isinstance(item, CameraSeenOn):
                    try:
                        await self._record([item.update()])
                    finally:
                        self._camera.settled()
                    _LOGGER.info("RTMS stream %s of session %s: a frame shows the client's camera on", self.plan.stream.stream_id, self.row.id)
                elif item is not _CHECK_CLIENT:
                    await self._record(item)
                state = await self.parts.tracker.state(self.row)
                if (seen := self._camera.stored(_off_since(state))) is not None:
                    self._updates.put_nowait(seen)
                await self._follow_client(state)
            except LeaseLost:
                _LOGGER.warning("RTMS stream %s of session %s: a write was refused, another instance holds the stream (epoch %d was ours): stopping",
                                self.plan.stream.stream_id, self.row.id, self.lease.epoch)
                self.lose()
            except Exception:  # a storage hiccup must not end the stream; the next event tries again
                _LOGGER.exception("RTMS stream %s of session %s: handling an event failed", self.plan.stream.stream_id, self.row.id)
            finally:
                self._updates.task_done()

    async def _record(self, updates: list[p.ParticipantUpdate]) -> None:
        for update in updates:
            if update.event_type == p.PARTICIPANT_JOIN:
                self._present[str(update.rtms_id)] = update.rtms_id
            elif update.event_type == p.PARTICIPANT_LEAVE:
                self._present.pop(str(update.rtms_id), None)
        meeting, now = self.row.meeting, self.parts.tracker.clock()
        changes = [u for u in updates if u.event_type in VIDEO_EVENTS]
        believed = [u for u in changes if believable(u.at, now)]
        if len(believed) < len(changes):  # one bad timestamp must not cost the stream its other changes
            _LOGGER.warning("RTMS stream %s: %d camera change(s) with an unbelievable time left out", self.plan.stream.stream_id, len(changes) - len(believed))
        keyed = [
            (event_key(meeting, u), ev.VideoStateChanged(meeting=meeting, at=u.at, participant=u.ref, on=VIDEO_EVENTS[u.event_type]))
            for u in believed
        ]
        if keyed:
            recorded = await self.parts.tracker.record(meeting, keyed, self.lease)
            if recorded.session_id is not None:
                self.parts.evaluation.submit(recorded.session_id)

    async def _follow_client(self, state: MeetingState) -> None:
        connection = self._connection
        if connection is None or not connection.ready:
            return
        target = self._client_rtms_id(state)
        if target is None or str(target) == self._following:
            return
        if await connection.subscribe_video(target):
            self._following = str(target)
            self._camera.follow(self._following)
            self.state = "following"
            _LOGGER.info("RTMS stream %s of session %s: following the client's video (RTMS user %s)", self.plan.stream.stream_id, self.row.id, target)

    def _client_rtms_id(self, state: MeetingState) -> int | str | None:
        """Return the client's current RTMS user id: their latest join that RTMS also reports present."""
        client = state.roster.client
        ids = [ref.user_id for ref in client.refs if ref.user_id] if client else []
        if not ids:
            return None
        chosen = next((i for i in reversed(ids) if i in self._present), ids[-1])
        # RTMS names people by number in meetings; send the server's own type back when we have seen it.
        return self._present.get(chosen, int(chosen) if chosen.isascii() and chosen.isdigit() else chosen)


def _off_since(state: MeetingState) -> datetime | None:
    """Return when the client's camera went off, as stored, or None while it is on."""
    last = state.video_off[-1] if state.video_off else None
    return last.start if last is not None and last.end is None else None
