"""Measure how long a raised notice takes to reach each channel's (fake) API, with many sessions at once.

Run from the repository root:  python bench/notice_latency.py [--sessions 100] [--rounds 5] [--storage-url URL]
Everything runs on loopback: fake Zoom (chatbot + OAuth) and fake Entra (HTTPS) + Graph, real clients.
Reported: p50/p99 per channel and per round (the first meets every session's client code for the first
time), and the CPU time of this whole process (service and fakes) per notice, which a busy machine
distorts far less than the latencies. Each run makes its own keys: give PostgreSQL an empty database.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web  # noqa: E402

from bot.config.settings_file import parse_settings  # noqa: E402
from bot.config.starter import new_key  # noqa: E402
from bot.core.settings import Settings  # noqa: E402
from bot.storage.store import session_id_for  # noqa: E402
from bot.web import keys  # noqa: E402
from bot.web.app import create_app  # noqa: E402
from integrations.zoom.events import parse_event  # noqa: E402
from integrations.zoom.scripted.webhooks import ScriptedMeeting, ScriptedPerson  # noqa: E402
from tests.fakes.graph import FakeGraph  # noqa: E402
from tests.fakes.tls import loopback_certificate  # noqa: E402
from tests.fakes.zoom_chat import FakeZoomChat  # noqa: E402

HOST = "BenchHost0000000000000"
ENTRA = "bench-entra-user"
SECRET = "bench-webhook-secret-Jw5Rk1Vd8Qx3Mb6"


def bench_settings(storage_url: str, zoom: FakeZoomChat, graph: FakeGraph, sessions: int) -> Settings:
    """Return settings for one therapist on every channel, with one client profile per meeting."""
    return parse_settings(
        {
            "server": {"public_url": "https://companion.bench"},
            "storage": {"url": storage_url},
            "zoom": {"webhook_secret_token": SECRET, **zoom.settings()},
            "reminders": {"sync_interval_minutes": 0},
            "privacy": {"data_key": new_key(), "notes_keys": [new_key()]},  # this run's own keys
            "teams": graph.settings(),
            "therapists": [{
                "id": "t1", "name": "Bench", "api_token": "bench-token-of-the-therapist-Hc4Tz9Lp2Ws7", "zoom_user_id": HOST,
                "teams_user_id": ENTRA, "channels": ["dashboard", "zoom_chat", "teams_activity"],
            }],
            "clients": [{"code": f"C-{n}", "therapist": "t1", "zoom_meeting_ids": [str(90000000000 + n)]} for n in range(sessions)],
        },
        {},
    )


async def open_sessions(app: web.Application, count: int) -> list[str]:
    """Store `count` live meetings (therapist and client in the room) and return their session ids."""
    start = datetime.now(timezone.utc) - timedelta(minutes=5)
    ids = []
    for n in range(count):
        meeting = ScriptedMeeting(start, str(90000000000 + n), f"BenchUuid{n:04d}==", HOST)
        meeting.started(0)
        meeting.joined(10, ScriptedPerson("1001", "Bench Therapist", f"t-{n}", account_id=HOST))
        meeting.joined(20, ScriptedPerson("1002", "Bench Client", f"c-{n}", email=f"client{n}@example.invalid"))
        for step, (_, body) in enumerate(meeting.steps):
            parsed = parse_event(body)
            assert parsed is not None
            await app[keys.TRACKER].record(parsed.meeting, [(f"{n}:{step}:{i}", e) for i, e in enumerate(parsed.events)])
        ids.append(session_id_for("zoom", meeting.uuid))
    return ids


def arrivals(zoom: FakeZoomChat, graph: FakeGraph) -> dict[str, dict[str, float]]:
    """Return, per channel, when each notice's request arrived, keyed by the link it carries."""
    return {
        "zoom_chat": {r.body["content"]["body"][0]["text"].split("\n")[1]: r.at for r in zoom.received if r.route == "message"},
        "teams_activity": {r.body["topic"]["webUrl"]: r.at for r in graph.received if r.route == "activity"},
    }


async def run(sessions: int, rounds: int, storage_url: str | None) -> None:
    folder = Path(tempfile.mkdtemp(prefix="notice-bench-"))
    tls, cafile = loopback_certificate(folder)
    os.environ["REQUESTS_CA_BUNDLE"] = str(cafile)  # msal's requests session trusts the fake Entra
    zoom, graph = FakeZoomChat(jids={HOST: "bench@xmpp.zoom.us"}), FakeGraph()
    await zoom.start()
    await graph.start_both(tls)
    settings = bench_settings(storage_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}", zoom, graph, sessions)
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    app = runner.app
    board = app[keys.BOARD]
    ids = await open_sessions(app, sessions)
    raised: dict[str, float] = {}
    run_id = uuid.uuid4().hex[:8]  # a reused database already holds earlier runs' notices

    async def raise_one(session_id: str, key: str) -> None:
        url = f"https://companion.bench/sessions/{session_id}"
        raised[f"{url}#{key}"] = time.perf_counter()
        now = datetime.now(timezone.utc)
        await board.raise_notice("t1", session_id, "recording_started", f"{session_id}:{run_id}:{key}", now, "Someone started recording the meeting.", now)

    await raise_one(ids[0], "warm-up")  # tokens, tenant discovery and the JID lookup happen once, here
    await app[keys.DELIVERIES].drain()
    latencies: dict[str, list[float]] = {"zoom_chat": [], "teams_activity": []}
    by_round: list[list[float]] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for round_no in range(rounds):
        zoom.received.clear()
        graph.received.clear()
        keys_before = {k for k in raised}
        await asyncio.gather(*(raise_one(s, f"r{round_no}") for s in ids))
        await app[keys.DELIVERIES].drain()
        by_round.append([])
        for channel, arrived in arrivals(zoom, graph).items():
            for key, at in raised.items():
                if key not in keys_before:
                    latencies[channel].append((arrived[key.split("#")[0]] - at) * 1000)
                    by_round[-1].append(latencies[channel][-1])
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    await runner.cleanup()
    await zoom.stop()
    await graph.stop()

    backend = (storage_url or "sqlite").split(":")[0]
    print(f"notice latency, raise -> request at the fake: {sessions} concurrent sessions x {rounds} rounds, storage {backend}")
    for channel, values in latencies.items():
        print(f"  {channel:15} n={len(values):4}  {figures(values)}")
    for round_no, values in enumerate(by_round):  # the first round meets every session's client code for the first time
        print(f"  round {round_no}, both channels  {figures(values)}")
    print(f"  {sessions * rounds} notices, {2 * sessions * rounds} channel messages in {elapsed:.2f} s")
    print(f"  CPU of the whole process (service and fakes): {cpu * 1000 / (sessions * rounds):.2f} ms per notice")


def figures(values: list[float]) -> str:
    """Return the median, 99th percentile and largest of some latencies, in milliseconds."""
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return f"p50={statistics.median(values):7.1f} ms  p99={p99:7.1f} ms  max={values[-1]:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--storage-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    asyncio.run(run(args.sessions, args.rounds, args.storage_url))


if __name__ == "__main__":
    main()
