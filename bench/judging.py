"""Measure judging in a 2,000-event session with the real tracker and store: one camera event, and the JSON summary.

Run from the repository root:  python bench/judging.py [--runs 40] [--postgres URL]
A live session of 2,000 stored events (bench/pages.py's: the client's camera and a visitor come and go)
is judged once; then each run stores one more camera event of the client's and judges the session
through `SessionTracker.evaluate`, as the evaluation queue does: first the tracker alone, then with the
timekeeper's hook planning the session's timers (its writes are the timekeeper's, measured apart). Then
the session's state is read as the RTMS stream does after each event; last, the summary is built and
written as JSON as the API answers it, live and once the meeting has ended.
Figures are medians in ms. `--postgres URL` runs on that database (emptied first) instead of SQLite.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Awaitable, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from bench.databases import emptied  # noqa: E402
from bench.pages import MINUTES, script  # noqa: E402
from bot.config.settings_file import parse_settings  # noqa: E402
from bot.core import events as ev  # noqa: E402
from bot.storage.store import SessionRow  # noqa: E402
from tests.bot.timekeeping.harness import CLIENT, MEETING, SESSION, T0, Clock, Harness  # noqa: E402
from tests.conftest import settings_dict  # noqa: E402

CAMERA_TARGET_MS, SUMMARY_TARGET_MS = 2.0, 15.0


async def timed(runs: int, step: Callable[[int], Awaitable[object]]) -> list[float]:
    """Return the times of `runs` calls of `step` (given the run's number), in ms."""
    times = []
    for n in range(runs):
        started = time.perf_counter()
        await step(n)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def state_of(harness: Harness, row: SessionRow) -> object:
    """Return the session's state as the RTMS stream reads it after each event (a state-only call where there is one)."""
    only_state = getattr(harness.tracker, "state", None)
    return await only_state(row) if only_state else (await harness.tracker.view(row)).state


async def summary_json(harness: Harness, row: SessionRow) -> str:
    """Return the session's summary as the API writes it."""
    return json.dumps((await harness.tracker.view(row)).summary)


async def run(runs: int, postgres: str | None) -> int:
    if postgres:
        await emptied(postgres)
    url = postgres or f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='companion-bench-judging-')) / 'companion.db'}"
    end = T0 + timedelta(minutes=MINUTES)
    clock = Clock(T0)  # the events arrived over the meeting, as far as the store can tell: received long before the runs
    events = script()[:-1]  # live: the meeting has not ended
    async with Harness(parse_settings(settings_dict(url), {}), clock) as harness:
        await harness.tracker.record(MEETING, events)
        clock.now = end
        await harness.tracker.evaluate(SESSION)
        row = await harness.store.session(SESSION)
        assert row is not None

        stored_ms: list[float] = []

        async def camera(n: int) -> None:
            at = clock.advance(seconds=1)
            change = ev.VideoStateChanged(meeting=MEETING, at=at, participant=CLIENT, on=n % 2 == 1)
            started = time.perf_counter()
            await harness.tracker.record(MEETING, [(f"bench:camera:{n}", change)])
            stored_ms.append((time.perf_counter() - started) * 1000)
            await harness.tracker.evaluate(SESSION)

        hooks = list(harness.tracker.after_evaluation)
        harness.tracker.after_evaluation.clear()  # the tracker's own judging first: no timers planned
        judged_ms = [total - stored for total, stored in zip(await timed(runs, camera), stored_ms, strict=True)]
        harness.tracker.after_evaluation[:] = hooks
        stored_ms.clear()
        timers_ms = [total - stored for total, stored in zip(await timed(runs, camera), stored_ms, strict=True)]
        state_ms = await timed(runs, lambda _: state_of(harness, row))
        live_ms = await timed(runs, lambda _: summary_json(harness, row))
        ending = ev.MeetingEnded(meeting=MEETING, at=clock.advance(seconds=1))
        await harness.tracker.record(MEETING, [("bench:end", ending)])
        await harness.tracker.evaluate(SESSION)
        ended_ms = await timed(runs, lambda _: summary_json(harness, row))
        summary = json.loads(await summary_json(harness, row))
    backend = "postgresql" if postgres else "sqlite"
    count = len(events) + 2 * runs
    print(f"storage {backend}, a session of {count} events, medians of {runs} runs:")
    print(f"  one camera event stored (tracker.record):                 {statistics.median(stored_ms):7.2f} ms")
    print(f"  ... and judged (evaluate, the tracker's own work):        {statistics.median(judged_ms):7.2f} ms   (target < {CAMERA_TARGET_MS:.0f} ms)")
    print(f"  ... and judged with the timekeeper's hook (its timers):   {statistics.median(timers_ms):7.2f} ms")
    print(f"  the session's state, as the RTMS stream reads it:         {statistics.median(state_ms):7.2f} ms")
    print(f"  the JSON summary, live:                                   {statistics.median(live_ms):7.2f} ms   (target < {SUMMARY_TARGET_MS:.0f} ms)")
    print(f"  the JSON summary, ended ({len(summary['timeline'])} timeline rows):             {statistics.median(ended_ms):7.2f} ms")
    met = statistics.median(judged_ms) < CAMERA_TARGET_MS and max(map(statistics.median, (live_ms, ended_ms))) < SUMMARY_TARGET_MS
    print(f"targets {'met' if met else 'NOT met'}")
    return 0 if met else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL database URL (postgresql+asyncpg://...): emptied first")
    args = parser.parse_args()
    return asyncio.run(run(args.runs, args.postgres))


if __name__ == "__main__":
    sys.exit(main())
