"""Measure one, two and three `companion serve` instances on one PostgreSQL database: webhook ingest and notice latency.

Run from the repository root:  python bench/instances.py [--instances 1,2,3] [--seconds 5] [--sessions 50] [--admin-dsn DSN]
For each count, a fresh database (made and dropped through `--admin-dsn`, default the local server's `test`) and that
many real `companion serve` processes. Ingest: distinct signed deliveries sent round-robin across the instances by 32
senders for `--seconds` (requests/s, and the CPU of all instances per acknowledged request, read from /proc once they
are quiet); then whether the events stored are exactly those acknowledged. Notices: a notice stream is open on every
instance; `--sessions` live meetings each get `recording.started` on one instance in turn, and the time from that
webhook's send to the `recording_started` notice on each stream (on every instance) is reported as p50/p99/max, with
any stream that missed a notice or got one twice. On 2 cores the point is that nothing gets worse and nothing is lost,
not a speed-up.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.process_cpu import cpu_seconds, settled_cpu_seconds  # noqa: E402
from bench.webhook_ingest import HOST_ID, Acks, bodies, free_port, headers, promised_events, ready, start_service, stored_events  # noqa: E402
from bot.storage.session_ids import session_id_for  # noqa: E402
from integrations.zoom.scripted.webhooks import ScriptedMeeting, ScriptedPerson  # noqa: E402

TOKEN = "bench-token-of-the-therapist-Hc4Tz9Lp2Ws7"  # bench/webhook_ingest.py's therapist "b"
CONCURRENCY = 32


async def ingest(bases: list[str], payloads: list[bytes], seconds: float, acks: Acks) -> float:
    """Send the payloads round-robin (sender i to instance i mod n) for `seconds`; return requests/s."""
    sent, deadline = 0, time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as http:

        async def sender(n: int) -> None:
            nonlocal sent
            url = f"{bases[n % len(bases)]}/webhooks/zoom"
            while time.perf_counter() < deadline and sent < len(payloads):
                index, sent = sent, sent + 1
                try:
                    async with http.post(url, data=payloads[index], headers=headers(payloads[index])) as answer:
                        await acks.take(answer, index)
                except aiohttp.ClientError:
                    acks.failed += 1

        began = time.perf_counter()
        await asyncio.gather(*(sender(n) for n in range(CONCURRENCY)))
        return sent / (time.perf_counter() - began)


class Stream:
    """One open notice stream: when each notice arrived, by session."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.arrived: dict[str, list[float]] = {}  # session id -> arrival times of its recording_started notices
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{self.base}/api/stream-tickets", headers={"Authorization": f"Bearer {TOKEN}"}) as answer:
                ticket = (await answer.json())["ticket"]
        opened = asyncio.Event()
        self.task = asyncio.create_task(self._read(ticket, opened))
        await asyncio.wait_for(opened.wait(), 10)

    async def _read(self, ticket: str, opened: asyncio.Event) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as http:
            async with http.get(f"{self.base}/api/notices/stream", params={"ticket": ticket}) as answer:
                opened.set()
                name = ""
                async for raw in answer.content:
                    line = raw.decode().rstrip("\n")
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: ") and name == "notice":
                        notice = json.loads(line[6:])
                        if notice["kind"] == "recording_started":
                            self.arrived.setdefault(notice["session_id"], []).append(time.perf_counter())

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def notices(bases: list[str], sessions: int) -> tuple[list[float], int]:
    """Return every (notice, stream) latency in ms, and how many streams missed a notice or got one twice."""
    streams = [Stream(base) for base in bases]
    for stream in streams:
        await stream.open()
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
    meetings = []
    async with aiohttp.ClientSession() as http:

        async def post(n: int, body: dict) -> float:
            raw = json.dumps(body).encode()
            sent = time.perf_counter()
            async with http.post(f"{bases[n % len(bases)]}/webhooks/zoom", data=raw, headers=headers(raw)) as answer:
                assert answer.status == 200, await answer.text()
            return sent

        for n in range(sessions):
            meeting = ScriptedMeeting(start, f"7{n:010d}", f"notice-{uuid.uuid4().hex[:12]}==", HOST_ID)
            meeting.started(0)
            meeting.joined(10, ScriptedPerson(f"1{n:07d}", "Therapist", f"t-{n}", account_id=HOST_ID))
            for _, body in meeting.steps:
                await post(n, body)
            meetings.append(meeting)
        await asyncio.sleep(2.0)  # the starts judged: only the recordings' notices are timed
        sent: dict[str, float] = {}
        for n, meeting in enumerate(meetings):
            meeting.recording(60)
            sent[session_id_for("zoom", meeting.uuid)] = await post(n, meeting.steps[-1][1])
            await asyncio.sleep(0.05)  # 20 a second, spread over the instances
    await asyncio.sleep(5.0)
    latencies, wrong = [], 0
    for stream in streams:
        for session_id, at in sent.items():
            arrived = stream.arrived.get(session_id, [])
            if len(arrived) != 1:
                wrong += 1
            latencies += [(t - at) * 1000 for t in arrived[:1]]
        await stream.close()
    return latencies, wrong


async def measure(count: int, args: argparse.Namespace, folder: Path) -> dict[str, object]:
    database = f"bench_instances_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(args.admin_dsn)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{database}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
    ports = [free_port() for _ in range(count)]
    processes = [start_service(folder, ports[0], url)]
    settings = (folder / f"bench-{ports[0]}.toml").read_text(encoding="utf-8")
    for port in ports[1:]:  # the same settings (and so the same keys) on another port
        (folder / f"bench-{port}.toml").write_text(settings.replace(f"port = {ports[0]}\n", f"port = {port}\n"), encoding="utf-8")
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--config", str(folder / f"bench-{port}.toml")],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        await asyncio.gather(*(ready(base) for base in bases))
        for process in processes:
            await settled_cpu_seconds(process.pid)
        before = sum(cpu_seconds(p.pid) for p in processes)
        payloads, acks = bodies(int(args.seconds * 3000)), Acks()
        rps = await ingest(bases, payloads, args.seconds, acks)
        for process in processes:
            await settled_cpu_seconds(process.pid)
        cpu_ms = (sum(cpu_seconds(p.pid) for p in processes) - before) / max(acks.count, 1) * 1000
        stored, promised = await stored_events(url), promised_events(payloads, acks)
        latencies, wrong = await notices(bases, args.sessions)
        q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [float("nan")] * 99
        return {
            "instances": count, "rps": rps, "cpu_ms": cpu_ms, "rows": f"{stored}/{promised}" + ("" if stored == promised else " MISMATCH"),
            "failed": acks.failed, "p50": q[49], "p99": q[98], "max": max(latencies, default=float("nan")), "wrong": wrong,
            "pairs": len(latencies),
        }
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", default="1,2,3", help="the instance counts to measure, comma-separated")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--sessions", type=int, default=50, help="live meetings whose recording notice is timed")
    parser.add_argument("--admin-dsn", default="host=127.0.0.1 port=5432 user=postgres dbname=test")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for count in (int(c) for c in args.instances.split(",")):
            results.append(await measure(count, args, Path(folder)))
    print("ingest round-robin (32 senders) and notice latency (webhook sent -> notice on every instance's stream)")
    print(f"{'instances':>9} {'req/s':>7} {'CPU ms/ack':>10} {'rows stored/acked':>18} {'unanswered':>10} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'notices x streams':>17} {'missed/twice':>12}")
    for r in results:
        print(f"{r['instances']:>9} {r['rps']:>7.0f} {r['cpu_ms']:>10.3f} {r['rows']:>18} {r['failed']:>10} "
              f"{r['p50']:>7.1f} {r['p99']:>7.1f} {r['max']:>7.1f} {r['pairs']:>17} {r['wrong']:>12}")
    if any(r["wrong"] or "MISMATCH" in str(r["rows"]) for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
