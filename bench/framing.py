"""Benchmark: framing analysis time per 640x360 frame on one core (median, p95), and frames per second on two workers."""
from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.framing import analysis  # noqa: E402
from bot.framing.analyzer import FramingAnalyzer  # noqa: E402
from tests.bot.framing import photos as P  # noqa: E402  (the shipped photographs: needs the test extra)

FRAMES = 120
POOL_SECONDS = 20.0


def frames(picture, count: int = 8) -> list[bytes]:
    """Return distinct JPEG frames of one picture (camera noise), as RTMS would send them."""
    return [P.jpeg(P.noisy(picture, seed, 5.0), 75) for seed in range(count)]


def one_core(name: str, jpegs: list[bytes]) -> None:
    times = []
    for n in range(FRAMES):
        started = time.perf_counter()
        analysis.analyse(jpegs[n % len(jpegs)])
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"one core, {name:<18} median {statistics.median(times):5.1f} ms   p95 {p95:5.1f} ms   ({FRAMES} frames)")


async def two_workers(jpegs: list[bytes]) -> None:
    analyzer = FramingAnalyzer(workers=2, timeout_seconds=5.0)
    analyzer.start()
    while analyzer.analysed == 0:  # wait out the models' loading in both workers
        await analyzer.analyse(jpegs[0])
        await asyncio.sleep(0.1)
    done = 0
    started = time.perf_counter()

    async def lane(k: int) -> None:
        nonlocal done
        while time.perf_counter() - started < POOL_SECONDS:
            if await analyzer.analyse(jpegs[(done + k) % len(jpegs)]) is not None:
                done += 1

    await asyncio.gather(*(lane(k) for k in range(analyzer.capacity)))
    elapsed = time.perf_counter() - started
    await analyzer.stop()
    print(f"two workers, person in view: {done / elapsed:5.1f} frames/s over {elapsed:.0f} s "
          f"= {int(done / elapsed)} live clients at 1 frame/s ({os.cpu_count()} cores; dropped {analyzer.dropped - 0})")


def main() -> None:
    person = frames(P.grace_hopper())
    empty = frames(P.coffee())
    every_core = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(every_core)})  # the models' own threads share this one core
    analysis.load_models()
    one_core("person in view", person)
    one_core("nobody in view", empty)
    os.sched_setaffinity(0, every_core)  # the workers inherit it
    asyncio.run(two_workers(person))


if __name__ == "__main__":
    main()
