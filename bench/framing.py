"""Benchmark: framing analysis per 640x360 frame on one core (median, p95, and where the time goes), and how many
live clients at 1 frame/s two workers sustain on the real path (a drop-oldest frame queue, the pool, its timeout)."""
from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.framing import analysis  # noqa: E402
from bot.framing.analyzer import FramingAnalyzer  # noqa: E402
from bot.tracking.frames import DEFAULT_QUEUE_FRAMES, Frame, FrameQueue  # noqa: E402
from tests.bot.framing import photos as P  # noqa: E402  (the shipped photographs: needs the test extra)

FRAMES = 120
CLIENT_SECONDS = 12.0  # each paced run: long enough for a queue that cannot keep up to show it
SUSTAINED_SHARE = 0.99  # a load is sustained when this share of the frames is analysed...
FRESH_SECONDS = 1.0  # ...and 95% of them within this of arriving (before the client's next frame)


def frames(picture, count: int = 8) -> list[bytes]:
    """Return one client's stream: distinct JPEG frames of one picture (camera noise), as RTMS sends them."""
    return [P.jpeg(P.noisy(picture, seed, 5.0), 75) for seed in range(count)]


def p95(times: list[float]) -> float:
    return sorted(times)[int(len(times) * 0.95) - 1]


def one_core(name: str, jpegs: list[bytes]) -> None:
    times = []
    for n in range(FRAMES):
        started = time.perf_counter()
        analysis.analyse(jpegs[n % len(jpegs)])
        times.append((time.perf_counter() - started) * 1000)
    print(f"one core, {name:<15} median {statistics.median(times):5.1f} ms   p95 {p95(times):5.1f} ms   ({FRAMES} frames in stream order)")


def stages(jpegs: list[bytes]) -> None:
    """Time each stage of analysis.analyse on its own (the same calls, same frames)."""
    import cv2
    import numpy as np

    faces, poses = analysis._models
    bgr = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in jpegs]
    rgb = [cv2.cvtColor(b, cv2.COLOR_BGR2RGB) for b in bgr]

    def measures(b):
        grey = cv2.cvtColor(b, cv2.COLOR_BGR2GRAY)
        cv2.meanStdDev(grey), cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_32F))
        cv2.resize(grey, (64, 36), interpolation=cv2.INTER_AREA), cv2.resize(grey, (16, 9), interpolation=cv2.INTER_AREA)

    parts = {
        "decode JPEG + RGB": lambda n: cv2.cvtColor(cv2.imdecode(np.frombuffer(jpegs[n], np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB),
        "face detection": lambda n: faces.process(rgb[n]),
        "pose (person detector + landmarks)": lambda n: poses.process(rgb[n]),
        "grey measures + thumbnails": lambda n: measures(bgr[n]),
    }
    for name, run in parts.items():
        times = []
        for n in range(FRAMES // 2):
            started = time.perf_counter()
            run(n % len(jpegs))
            times.append((time.perf_counter() - started) * 1000)
        print(f"    {name:<36} median {statistics.median(times):5.1f} ms")


async def ready_analyzer(jpeg: bytes) -> FramingAnalyzer:
    analyzer = FramingAnalyzer(workers=2)  # the default analysis_timeout_seconds
    while analyzer.analysed == 0:  # wait out the models' loading in both workers
        await analyzer.analyse(jpeg)
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    return analyzer


async def clients(analyzer: FramingAnalyzer, count: int, jpegs: list[bytes]) -> tuple[float, float]:
    """Stream `count` clients at 1 frame/s (evenly out of phase) through the sink's path; return (share analysed, p95 s)."""
    queue = FrameQueue(DEFAULT_QUEUE_FRAMES)  # the framing sink's lane: drops the oldest frame when it lags
    room = asyncio.Semaphore(analyzer.capacity)  # the sink waits for room in the pool, not in the pool's queue
    latencies: list[float] = []
    tasks: set[asyncio.Task[None]] = set()
    sent = 0

    async def one(frame: Frame) -> None:
        try:
            seen = await analyzer.analyse(frame.jpeg)
        finally:
            room.release()
        if seen is not None:
            latencies.append((datetime.now(timezone.utc) - frame.at).total_seconds())

    async def consume() -> None:
        while True:
            frame = await queue.get()
            await room.acquire()
            task = asyncio.create_task(one(frame))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    consumer = asyncio.create_task(consume())
    started = time.perf_counter()
    for tick in range(int(CLIENT_SECONDS * count)):
        await asyncio.sleep(max(0.0, started + tick / count - time.perf_counter()))
        client = tick % count
        queue.put(Frame(f"client-{client}", "client", datetime.now(timezone.utc), jpegs[(tick // count + client) % len(jpegs)]))
        sent += 1
    await asyncio.sleep(3.0)  # the last frames' analyses
    consumer.cancel()
    await asyncio.gather(consumer, *tasks, return_exceptions=True)
    return len(latencies) / sent, (p95(latencies) if latencies else float("inf"))


async def two_workers(jpegs: list[bytes]) -> None:
    analyzer = await ready_analyzer(jpegs[0])
    sustained = 0
    for count in range(40, 121, 10):
        share, late = await clients(analyzer, count, jpegs)
        ok = share >= SUSTAINED_SHARE and late <= FRESH_SECONDS
        print(f"two workers, {count:3d} clients at 1 frame/s: {share:6.1%} analysed, p95 {late * 1000:4.0f} ms after arrival"
              f"{'' if ok else '   <- not sustained'}")
        if not ok:
            break
        sustained = count
    await analyzer.stop()
    print(f"two workers sustain {sustained} live clients at 1 frame/s ({os.cpu_count()} cores; "
          f"{SUSTAINED_SHARE:.0%} analysed, 95% within {FRESH_SECONDS:.0f} s; steps of 10)")


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    print(f"start: {load()} (other work on this machine slows every figure)")
    person = frames(P.grace_hopper())
    empty = frames(P.coffee())
    every_core = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(every_core)})  # the models' own threads share this one core
    analysis.load_models()
    one_core("person in view", person)
    stages(person)
    one_core("nobody in view", empty)
    os.sched_setaffinity(0, every_core)  # the workers inherit it
    asyncio.run(two_workers(person))
    print(f"end: {load()}")


if __name__ == "__main__":
    main()
