"""Frame queues, sinks and statistics (bot/tracking/frames.py)."""
from __future__ import annotations

import asyncio
import io
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image

from bot.tracking.frames import Frame, FramePipeline, FrameQueue, jpeg_size
from tests.fakes.rtms_server import jpeg

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def frame(n: int, data: bytes = b"", session: str = "s1") -> Frame:
    return Frame(session, "16779264", T0 + timedelta(seconds=n), data or jpeg(64, 48))


@pytest.mark.parametrize("size", [(640, 360), (1280, 720), (17, 9)])
@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_size_is_read_from_the_start_of_frame_header(size, progressive):
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(out, "JPEG", progressive=progressive)
    assert jpeg_size(out.getvalue()) == size


@pytest.mark.parametrize("data", [b"", b"GIF89a", b"\xff\xd8", b"\xff\xd8\xff\xdb\x00", jpeg()[:20], b"\xff\xd8\xff\xda\x00\x08" + b"\x00" * 20])
def test_jpeg_size_is_none_for_what_is_not_a_readable_jpeg(data):
    assert jpeg_size(data) is None


async def test_a_full_queue_drops_the_oldest_frame_and_never_waits():
    queue = FrameQueue(maxsize=3)
    for n in range(5):
        queue.put(frame(n))
    assert queue.dropped == 2 and len(queue) == 3
    assert [(await queue.get()).at for _ in range(3)] == [T0 + timedelta(seconds=n) for n in (2, 3, 4)]
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put(frame(9))
    assert (await waiting).at == T0 + timedelta(seconds=9)


async def test_statistics_count_frames_per_session_with_time_and_resolution():
    pipeline = FramePipeline()
    pipeline.start()
    pipeline.put(frame(1, jpeg(640, 360)))
    pipeline.put(frame(3, jpeg(320, 180)))  # resolution may change mid-stream
    pipeline.put(frame(2, b"\xff\xd8 garbage"))
    pipeline.put(frame(5, jpeg(8, 8), session="s2"))
    await asyncio.sleep(0.01)
    await pipeline.stop()
    assert pipeline.session_json("s1") == {
        "count": 2, "unreadable": 1, "last_frame_at": "2026-11-20T10:00:03Z", "width": 320, "height": 180,
    }
    assert pipeline.session_json("s2")["count"] == 1
    assert pipeline.session_json("nobody") is None


class StuckSink:
    """A sink that takes an hour per frame."""

    def __init__(self) -> None:
        self.seen = 0

    async def handle(self, frame: Frame) -> None:
        self.seen += 1
        await asyncio.sleep(3600)


async def test_a_slow_sink_loses_old_frames_but_delays_neither_the_producer_nor_other_sinks():
    pipeline = FramePipeline()
    stuck = StuckSink()
    pipeline.start()
    pipeline.add_sink(stuck, maxsize=4)
    for n in range(100):
        pipeline.put(frame(n))
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    await pipeline.stop()
    assert pipeline.session_json("s1")["count"] == 100
    assert stuck.seen == 1 and pipeline.dropped == 100 - 1 - 4


async def test_a_failing_sink_keeps_receiving_frames():
    class Flaky:
        calls = 0

        async def handle(self, frame: Frame) -> None:
            Flaky.calls += 1
            raise RuntimeError("bad frame")

    pipeline = FramePipeline()
    pipeline.add_sink(Flaky())
    pipeline.start()
    pipeline.put(frame(1))
    pipeline.put(frame(2))
    await asyncio.sleep(0.01)
    await pipeline.stop()
    assert Flaky.calls == 2
