"""Benchmark: the therapist's pages for a 90-minute session with 2,000 events, served by the real app (target < 150 ms each)."""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import CookieJar  # noqa: E402
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from bot.config.settings_file import parse_settings  # noqa: E402
from bot.core import events as ev  # noqa: E402
from bot.web import keys  # noqa: E402
from bot.web.app import create_app  # noqa: E402
from tests.bot.timekeeping.harness import CLIENT, MEETING, SESSION, T0, THERAPIST, Clock  # noqa: E402
from tests.bot.web.pages.conftest import set_passwords, sign_in  # noqa: E402
from tests.conftest import settings_dict  # noqa: E402

EVENTS, MINUTES, BUDGET_MS = 2000, 90, 150.0
VISITOR = ev.ParticipantRef(user_id="16779999", stable_id="P-V", name="Visitor")


def script() -> list[tuple[str, ev.MeetingEvent]]:
    """Return a 90-minute session of EVENTS keyed events: the client's camera, and a visitor, come and go."""
    at = lambda seconds: T0 + timedelta(seconds=seconds)  # noqa: E731
    end = MINUTES * 60
    events: list[ev.MeetingEvent] = [
        ev.MeetingStarted(meeting=MEETING, at=at(0)),
        ev.ParticipantJoined(meeting=MEETING, at=at(1), participant=THERAPIST),
        ev.ParticipantJoined(meeting=MEETING, at=at(5), participant=CLIENT),
    ]
    n = 0
    while len(events) < EVENTS - 1:
        second = 10 + n * (end - 20) / EVENTS
        if n % 10 == 9:
            kind = ev.ParticipantJoined if (n // 10) % 2 == 0 else ev.ParticipantLeft
            events.append(kind(meeting=MEETING, at=at(second), participant=VISITOR))
        else:
            events.append(ev.VideoStateChanged(meeting=MEETING, at=at(second), participant=CLIENT, on=n % 2 == 1))
        n += 1
    events.append(ev.MeetingEnded(meeting=MEETING, at=at(end)))
    return [(f"bench:{i}", e) for i, e in enumerate(events)]


async def run(runs: int) -> int:
    folder = Path(tempfile.mkdtemp(prefix="companion-bench-pages-"))
    clock = Clock(T0 + timedelta(minutes=MINUTES + 1))
    app = create_app(parse_settings(settings_dict(f"sqlite+aiosqlite:///{folder / 'companion.db'}"), {}), clock=clock)
    client = TestClient(TestServer(app), cookie_jar=CookieJar(unsafe=True))
    await client.start_server()
    try:
        await set_passwords(app)
        await app[keys.TRACKER].record(MEETING, script())
        app[keys.EVALUATION].submit(SESSION)
        await app[keys.EVALUATION].drain()
        assert (await sign_in(client)).status == 303
        worst = 0.0
        for path in (f"/sessions/{SESSION}", f"/sessions/{SESSION}/live.json", f"/sessions/{SESSION}/summary", f"/sessions/{SESSION}/checklist", "/"):
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                response = await client.get(path)
                await response.read()
                assert response.status == 200, (path, response.status)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            worst = max(worst, statistics.median(times))
            print(f"{path:<42} median {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms   ({runs} runs, {EVENTS} events)")
        print(f"slowest median {worst:.1f} ms; target under {BUDGET_MS:.0f} ms: {'met' if worst < BUDGET_MS else 'NOT met'}")
        return 0 if worst < BUDGET_MS else 1
    finally:
        await client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    return asyncio.run(run(parser.parse_args().runs))


if __name__ == "__main__":
    sys.exit(main())
