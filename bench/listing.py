"""Measure `GET /api/sessions?limit=200` through the real app and HTTP stack, with thousands of sessions stored.

Run from the repository root:  python bench/listing.py [--sessions 5000] [--others 500] [--runs 20] [--postgres URL]
One therapist's `--sessions` sessions and another's `--others` (fifty clients each, weekly meetings, about a dozen
events a session: joins, the client's camera off and on (one time in ten long enough for an alert), now and then a
visitor, the ends; the newest ten still live) are stored through the real tracker and judged once each by the
evaluation queue, as the service does on ingest; then the listing is timed with a real HTTP client on loopback.
A PostgreSQL database named by `--postgres` is emptied first.

Measured on the shared 2-core machine (medians of 20 runs; before = main at f9335f5, 5 runs, every listed
session judged from its events): SQLite 6,954 ms before (under the test suite's load), 25.7 ms after (beside
another helper's tests); PostgreSQL 5,054 ms before, 17.0 ms after (quiet machine; 64.6 ms beside the full suite).
"""
from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web  # noqa: E402

from bench.databases import emptied  # noqa: E402
from bench.restart import HOST, write_config  # noqa: E402
from bot.config.settings_file import load_settings  # noqa: E402
from bot.core import events as ev  # noqa: E402
from bot.storage.store import session_id_for  # noqa: E402
from bot.web import keys  # noqa: E402
from bot.web.app import create_app  # noqa: E402
from tests.conftest import free_port  # noqa: E402

OTHER_HOST = "BenchOtherHost00000000"
TOKEN = "bench-token-of-the-therapist-Hc4Tz9Lp2Ws7"  # bench/restart.py's therapist t1
CLIENTS = 50
LIVE = 10
SPACING = timedelta(minutes=50)  # between two sessions' starts, newest a few minutes ago: all well inside retention


def with_other_therapist(config: Path) -> None:
    """Add a second therapist, with fifty clients of their own, to bench/restart.py's settings file."""
    clients = "".join(f'[[clients]]\ncode = "O-{n}"\ntherapist = "t2"\nzoom_meeting_ids = ["{91000000000 + n}"]\n' for n in range(CLIENTS))
    with config.open("a", encoding="utf-8") as file:
        file.write(
            f'[[therapists]]\nid = "t2"\nname = "Other"\napi_token = "bench-token-of-another-therapist-Pq7Vn3Ry8Kd"\n'
            f'zoom_user_id = "{OTHER_HOST}"\n' + clients
        )


def session_events(n: int, host: str, meeting_id: str, start: datetime, live: bool) -> tuple[ev.MeetingRef, list[ev.MeetingEvent]]:
    """Return one session's meeting and events: a fifty-minute call, or one still going."""
    meeting = ev.MeetingRef("zoom", f"BenchListing{n:05d}{host[:4]}==", meeting_id, host)
    therapist = ev.ParticipantRef(user_id="1001", stable_id=f"t-{n}", account_id=host, name="Bench Therapist")
    client = ev.ParticipantRef(user_id="1002", stable_id=f"c-{n}", name="Bench Client", email=f"client{n}@example.invalid")

    def at(minutes: float) -> datetime:
        return start + timedelta(minutes=minutes)

    happened: list[ev.MeetingEvent] = [
        ev.MeetingStarted(meeting=meeting, at=at(0), scheduled_start=at(0).strftime("%Y-%m-%dT%H:%M:%SZ"), scheduled_minutes=50),
        ev.ParticipantJoined(meeting=meeting, at=at(0.5), participant=therapist),
        ev.ParticipantJoined(meeting=meeting, at=at(1), participant=client),
        ev.VideoStateChanged(meeting=meeting, at=at(5), participant=client, on=False),
        ev.VideoStateChanged(meeting=meeting, at=at(7 if n % 10 == 0 else 5.5), participant=client, on=True),  # now and then an alert
    ]
    if n % 7 == 0:
        visitor = ev.ParticipantRef(user_id="1003", stable_id=f"v-{n}", name="Visitor")
        happened += [ev.ParticipantJoined(meeting=meeting, at=at(8), participant=visitor), ev.ParticipantLeft(meeting=meeting, at=at(9), participant=visitor)]
    if live:
        return meeting, happened
    happened += [
        ev.VideoStateChanged(meeting=meeting, at=at(20), participant=client, on=False),
        ev.VideoStateChanged(meeting=meeting, at=at(20.5), participant=client, on=True),
        ev.RecordingStarted(meeting=meeting, at=at(30)) if n % 5 == 0 else ev.VideoStateChanged(meeting=meeting, at=at(30), participant=client, on=True),
        ev.ParticipantLeft(meeting=meeting, at=at(49), participant=client),
        ev.ParticipantLeft(meeting=meeting, at=at(49.5), participant=therapist),
        ev.MeetingEnded(meeting=meeting, at=at(50)),
    ]
    return meeting, happened


async def store_sessions(app: web.Application, sessions: int, others: int) -> int:
    """Store both therapists' sessions through the tracker, oldest first, and judge each once; return the events stored."""
    tracker, now = app[keys.TRACKER], datetime.now(timezone.utc)
    plan = [(sessions - n, n, HOST, str(90000000000 + n % CLIENTS)) for n in range(sessions)]
    plan += [(others - n, n, OTHER_HOST, str(91000000000 + n % CLIENTS)) for n in range(others)]
    stored, batch = 0, []
    for age, n, host, meeting_id in sorted(plan, key=lambda p: (-p[0], p[2])):
        meeting, happened = session_events(n, host, meeting_id, now - SPACING * age, age <= LIVE)
        batch.append((meeting, [(f"bench-listing:{meeting.occurrence_id}:{i}", e) for i, e in enumerate(happened)]))
        stored += len(happened)
    began = time.perf_counter()
    for first in range(0, len(batch), 50):  # fifty deliveries at once: they share commits, as a burst of webhooks does
        await asyncio.gather(*(tracker.record(meeting, keyed) for meeting, keyed in batch[first:first + 50]))
    recorded = time.perf_counter()
    for meeting, _ in batch:
        app[keys.EVALUATION].submit(session_id_for("zoom", meeting.occurrence_id))
    await app[keys.EVALUATION].drain()
    print(f"stored {stored} events in {recorded - began:.1f} s, judged {len(batch)} sessions in {time.perf_counter() - recorded:.1f} s")
    return stored


async def run(args: argparse.Namespace) -> None:
    # In memory where there is /dev/shm: each judging commits, and the disk's syncs would make setting up take many minutes.
    folder = Path(tempfile.mkdtemp(prefix="listing-bench-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    if args.postgres:
        await emptied(args.postgres)
    url = args.postgres or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    port = free_port()
    config = write_config(folder, url, port, CLIENTS)
    with_other_therapist(config)
    runner = web.AppRunner(create_app(load_settings(config)))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    began = time.perf_counter()
    events = await store_sessions(runner.app, args.sessions, args.others)
    print(f"stored and judged {args.sessions} + {args.others} sessions ({events} events) in {time.perf_counter() - began:.1f} s")
    listing = f"http://127.0.0.1:{port}/api/sessions?limit=200"
    times = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        for _ in range(args.runs + 1):  # the first is a warm-up, not counted
            started = time.perf_counter()
            async with http.get(listing) as answer:
                body = await answer.json()
            times.append((time.perf_counter() - started) * 1000)
            assert answer.status == 200 and len(body) == 200, answer.status
            assert all(s["status"] in ("ended", "in_progress") and s["client_code"].startswith("C-") for s in body)
    await runner.cleanup()
    shutil.rmtree(folder, ignore_errors=True)
    warm_up, times = times[0], sorted(times[1:])
    backend = url.split(":")[0].split("+")[0]
    print(
        f"GET /api/sessions?limit=200, {args.sessions} sessions of the therapist (+{args.others} another's), storage {backend}: "
        f"median {statistics.median(times):.1f} ms, min {times[0]:.1f} ms, max {times[-1]:.1f} ms "
        f"({args.runs} runs; the first, not counted, {warm_up:.1f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--others", type=int, default=500, help="another therapist's sessions, never listed")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL (postgresql+asyncpg://...): emptied first; default: a temporary SQLite file")
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
