"""Hand the client's video frames to sinks through bounded queues that drop the oldest frame when a sink lags."""
from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Protocol

from bot.core.timefmt import to_iso

_LOGGER = logging.getLogger(__name__)
DEFAULT_QUEUE_FRAMES = 32


@dataclass(frozen=True)
class Frame:
    """One JPEG video frame of a session's participant, as the platform timestamped it."""

    session_id: str
    user_id: str
    at: datetime
    jpeg: bytes


class FrameSink(Protocol):
    """Something that looks at frames (statistics, framing analysis); slow work belongs in an executor."""

    async def handle(self, frame: Frame) -> None: ...


class FrameQueue:
    """A bounded queue whose `put` never waits: when full, the oldest frame is dropped."""

    def __init__(self, maxsize: int = DEFAULT_QUEUE_FRAMES) -> None:
        if maxsize < 1:
            raise ValueError("a frame queue holds at least one frame")
        self._frames: collections.deque[Frame] = collections.deque(maxlen=maxsize)
        self._ready = asyncio.Event()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._frames)

    def put(self, frame: Frame) -> None:
        """Add a frame at once, dropping the oldest if the queue is full."""
        if len(self._frames) == self._frames.maxlen:
            self.dropped += 1
        self._frames.append(frame)
        self._ready.set()

    async def get(self) -> Frame:
        """Wait for and return the oldest frame still queued."""
        while not self._frames:
            self._ready.clear()
            await self._ready.wait()
        return self._frames.popleft()


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Return (width, height) from a JPEG's start-of-frame header, or None if there is none."""
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        # SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC), carry the size.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > len(data):
                return None
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height
        if marker == 0xDA or length < 2:  # image data starts before any size: not a usable JPEG
            return None
        i += 2 + length
    return None


@dataclass
class FrameStats:
    """What the service keeps about a session's frames: never the frames themselves."""

    count: int = 0
    unreadable: int = 0
    last_frame_at: datetime | None = None
    width: int | None = None
    height: int | None = None


class FrameStatistics:
    """The default sink: per-session frame count, last frame time and resolution."""

    def __init__(self) -> None:
        self._sessions: dict[str, FrameStats] = {}

    async def handle(self, frame: Frame) -> None:
        """Count the frame and note its time and size."""
        stats = self._sessions.setdefault(frame.session_id, FrameStats())
        size = jpeg_size(frame.jpeg)
        if size is None:
            stats.unreadable += 1
            return
        stats.count += 1
        stats.width, stats.height = size
        if stats.last_frame_at is None or frame.at > stats.last_frame_at:
            stats.last_frame_at = frame.at

    def stats(self, session_id: str) -> FrameStats | None:
        return self._sessions.get(session_id)

    def forget(self, session_ids: Iterable[str]) -> None:
        """Drop what is kept of these sessions' frames (purged or forgotten sessions)."""
        for session_id in session_ids:
            self._sessions.pop(session_id, None)


class FramePipeline:
    """Fan frames out to sinks, each behind its own drop-oldest queue and consumer task."""

    def __init__(self, statistics: FrameStatistics | None = None, statistics_frames: int = DEFAULT_QUEUE_FRAMES) -> None:
        self.statistics = statistics or FrameStatistics()
        self._lanes: list[tuple[FrameSink, FrameQueue]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self.add_sink(self.statistics, statistics_frames)

    @property
    def dropped(self) -> int:
        return sum(queue.dropped for _, queue in self._lanes)

    def add_sink(self, sink: FrameSink, maxsize: int = DEFAULT_QUEUE_FRAMES) -> None:
        """Give `sink` every frame from now on (started with the pipeline)."""
        queue = FrameQueue(maxsize)
        self._lanes.append((sink, queue))
        if self._running:
            self._tasks.append(asyncio.create_task(self._consume(sink, queue), name="frame-sink"))

    def put(self, frame: Frame) -> None:
        """Queue the frame for every sink; never waits."""
        for _, queue in self._lanes:
            queue.put(frame)

    def start(self) -> None:
        self._running = True
        self._tasks = [asyncio.create_task(self._consume(s, q), name="frame-sink") for s, q in self._lanes]

    async def stop(self) -> None:
        self._running = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def session_json(self, session_id: str) -> dict[str, Any] | None:
        """Return the session's frame statistics as the API shows them, or None before any frame."""
        stats = self.statistics.stats(session_id)
        if stats is None:
            return None
        return {
            "count": stats.count,
            "unreadable": stats.unreadable,
            "last_frame_at": to_iso(stats.last_frame_at),
            "width": stats.width,
            "height": stats.height,
        }

    @staticmethod
    async def _consume(sink: FrameSink, queue: FrameQueue) -> None:
        while True:
            frame = await queue.get()
            try:
                await sink.handle(frame)
            except Exception:  # one bad frame or sink bug must not stop the lane
                _LOGGER.exception("frame sink %s failed on a frame of session %s", type(sink).__name__, frame.session_id)
