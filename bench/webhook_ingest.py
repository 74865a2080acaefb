"""Benchmark signed-webhook ingest on loopback: the service beside a bare HMAC-only aiohttp handler.

Run: python bench/webhook_ingest.py [--seconds 5] [--rate 500] [--concurrency 32] [--burst 10000] [--postgres URL] [--wrk] [--code DIR]
Each server runs in its own process; this process is the load generator, or with `--wrk` wrk (Debian's
package, bench/wrk_load.py) drives the saturated phase, past the Python generator's ceiling. Reported per server:
requests/s at saturation; p50/p99 acknowledgement latency at a fixed (open-loop) request rate; the
server's CPU time (from /proc, its children included) per acknowledged request in each phase, read
once the server has gone quiet after the load, since the service judges after it acknowledges, and
how long that took; for the service, the evaluation backlog after a burst of `--burst` deliveries (one event
each): the time from the last acknowledgement until the service's /metrics says no session waits to be judged
(`companion_evaluation_backlog`; code without that gauge: until its CPU goes quiet), and whether the events
stored for the bench's meetings are exactly those its acknowledgements promised (exit code 1 if not).
`--code DIR` runs the service from another checkout (e.g. `git worktree add /tmp/before main`).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import wrk_load  # noqa: E402
from bench.process_cpu import cpu_seconds, settled_cpu_seconds  # noqa: E402
from bot.config.starter import new_key  # noqa: E402
from bot.storage import schema  # noqa: E402
from integrations.zoom.events import parse_event  # noqa: E402
from integrations.zoom.scripted.webhooks import ScriptedMeeting, ScriptedPerson  # noqa: E402
from integrations.zoom.signature import sign  # noqa: E402

SECRET = "bench-secret-4f1c-Ny8Gq3Xs6Kv1Dm"
HOST_ID = "BenchHost0000000000000"

CEILING_SERVER = """
import hashlib, hmac, sys
from aiohttp import web
SECRET = sys.argv[2].encode()
async def handle(request):
    raw = await request.read()
    ts = request.headers.get("x-zm-request-timestamp", "")
    expected = "v0=" + hmac.new(SECRET, b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(expected, request.headers.get("x-zm-signature", ""))
    return web.json_response({"status": "ok"}, status=200 if ok else 401)
app = web.Application()
app.router.add_post("/webhooks/zoom", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bodies(count: int) -> list[bytes]:
    """Return `count` distinct, realistic deliveries: therapy meetings with a therapist, a client, reconnects."""
    start = datetime.now(timezone.utc) - timedelta(hours=2)
    out: list[bytes] = []
    n = 0
    while len(out) < count:
        meeting = ScriptedMeeting(start, f"8{n:010d}", f"bench-{n}==", HOST_ID)
        therapist = ScriptedPerson(f"1{n:07d}", "Therapist", f"t-{n}", account_id=HOST_ID)
        client = ScriptedPerson(f"2{n:07d}", "Client", f"c-{n}")
        meeting.started(0)
        meeting.joined(10, therapist)
        meeting.joined(60, client)
        for k in range(4):  # the client's connection drops and comes back
            meeting.left(600 * (k + 1), client)
            client = client.rejoined(f"{3 + k}{n:07d}")
            meeting.joined(600 * (k + 1) + 20, client)
        meeting.left(3000, client)
        meeting.left(3010, therapist)
        meeting.ended(3012)
        out += [json.dumps(body).encode() for _, body in meeting.steps]
        n += 1
    return out[:count]


def headers(raw: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    return {"x-zm-request-timestamp": ts, "x-zm-signature": sign(SECRET, ts, raw), "Content-Type": "application/json"}


async def wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.post(url, data=b"{}") as response:
                    if response.status in (200, 401):
                        return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class Acks:
    """The deliveries a server acknowledged, by their index in the bench's payloads."""

    stored: list[int] = field(default_factory=list)  # the service said "stored"
    count: int = 0
    failed: int = 0  # no answer: the connection closed or failed
    in_flight: list[int] = field(default_factory=list)  # sent by wrk as it stopped: stored or not, unknown

    async def take(self, response: aiohttp.ClientResponse, index: int) -> None:
        body = await response.read()
        assert response.status == 200, (response.status, body[:200])
        self.count += 1
        if b'"stored"' in body:
            self.stored.append(index)


def wrk_saturate(url: str, payloads: list[bytes], seconds: float, connections: int, acks: Acks) -> float:
    """Return requests/s with wrk's `connections` for `seconds`; wrk sends the payloads in order, each once."""
    done = wrk_load.run(url, payloads, headers, seconds, connections)
    if done.completed + connections > len(payloads):
        raise SystemExit("wrk sent every payload: raise the bench's payload count")
    acks.count += done.completed
    acks.failed += done.not_ok + done.socket_errors
    acks.stored += range(done.completed)  # one thread, in order: the first `completed` were answered
    acks.in_flight += range(done.completed, done.completed + connections)
    return done.rps


async def saturate(url: str, payloads: list[bytes], first: int, seconds: float, concurrency: int, acks: Acks) -> float:
    """Return requests/s with `concurrency` senders for `seconds`, from payload `first` on."""
    sent = first
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def sender() -> None:
            nonlocal sent
            while time.perf_counter() < deadline and sent < len(payloads):
                index, sent = sent, sent + 1
                raw = payloads[index]
                try:
                    async with http.post(url, data=raw, headers=headers(raw)) as response:
                        await acks.take(response, index)
                except aiohttp.ClientError:
                    acks.failed += 1

        began = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        return (sent - first) / (time.perf_counter() - began)


async def fixed_rate(url: str, payloads: list[bytes], first: int, rate: float, seconds: float, acks: Acks) -> tuple[float, float, float]:
    """Send at `rate` per second (open loop) from payload `first` on; return p50 and p99 latency in ms, and the rate reached."""
    latencies: list[float] = []
    total = int(rate * seconds)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def one(index: int) -> None:
            raw = payloads[index]
            began = time.perf_counter()
            try:
                async with http.post(url, data=raw, headers=headers(raw)) as response:
                    await acks.take(response, index)
            except aiohttp.ClientError:
                acks.failed += 1
                return
            latencies.append((time.perf_counter() - began) * 1000)

        tasks = []
        began = time.perf_counter()
        for n in range(total):
            delay = began + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(first + n)))
        await asyncio.gather(*tasks)
        reached = total / (time.perf_counter() - began)
    q = statistics.quantiles(latencies, n=100)
    return q[49], q[98], reached


async def stored_events(storage_url: str) -> int:
    """Return how many events the database holds for the bench's meetings."""
    engine = create_async_engine(storage_url)
    try:
        t = schema.events
        query = select(func.count()).select_from(t).where(t.c.platform == "zoom").where(t.c.occurrence_id.like("bench-%"))
        async with engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())
    finally:
        await engine.dispose()


def promised_events(payloads: list[bytes], acks: Acks) -> int:
    """Return how many events the deliveries acknowledged as stored carry (as the service parses them)."""
    total = 0
    for index in acks.stored:
        parsed = parse_event(json.loads(payloads[index]))
        total += len(parsed.events) if parsed is not None else 0
    return total


async def backlog(metrics_url: str) -> float | None:
    """Return the sessions waiting to be judged, from the service's /metrics (None: it has no such gauge)."""
    async with aiohttp.ClientSession() as http, http.get(metrics_url) as response:
        for line in (await response.text()).splitlines():
            if line.startswith("companion_evaluation_backlog "):
                return float(line.split()[1])
    return None


async def burst_backlog(url: str, pid: int, payloads: list[bytes], first: int, count: int, concurrency: int, acks: Acks) -> tuple[float, float, str]:
    """Send `count` deliveries as fast as the service takes them; return requests/s, the seconds from the last answer
    until no session waits to be judged, and how that was read."""
    rps = await saturate(url, payloads[: first + count], first, float("inf"), concurrency, acks)
    last_answer = time.perf_counter()
    metrics_url = url.replace("/webhooks/zoom", "/metrics")
    if await backlog(metrics_url) is None:  # code from before the gauge: until its CPU goes quiet
        _, waited = await settled_cpu_seconds(pid)
        return rps, waited, "CPU quiet"
    while await backlog(metrics_url):
        await asyncio.sleep(0.1)  # each scrape costs the service a query: not so often that it slows the judging
    return rps, time.perf_counter() - last_answer, "gauge"


async def ready(base: str, path: str = "/readyz", seconds: float = 60.0) -> None:
    """Return once `companion serve` at `base` answers `path` with 200 (`/healthz` for checkouts from before `/readyz`)."""
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:  # a stuck answer is asked again
        while time.monotonic() < deadline:
            try:
                async with http.get(f"{base}{path}") as answer:
                    if answer.status == 200:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{base} did not become ready")


def start_service(folder: Path, port: int, storage_url: str, code: Path = ROOT) -> subprocess.Popen:
    config = folder / f"bench-{port}.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n[storage]\nurl = "{storage_url}"\n'
        f'[zoom]\nwebhook_secret_token = "{SECRET}"\n'
        f'[privacy]\ndata_key = "{new_key()}"\nnotes_keys = ["{new_key()}"]\n'  # this run's own keys
        f'[[therapists]]\nid = "b"\nname = "Bench"\napi_token = "bench-token-of-the-therapist-Hc4Tz9Lp2Ws7"\nzoom_user_id = "{HOST_ID}"\n',
        encoding="utf-8",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--config", str(config)],
        cwd=code, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(code)},
    )


async def measure(name: str, url: str, pid: int, storage_url: str, args: argparse.Namespace) -> dict[str, float | str]:
    await wait_up(url)
    burst = int(args.seconds * (15000 if args.wrk else 4000))  # more than either generator sends in the time
    payloads = bodies(burst + int(args.rate * args.seconds) + 100 + (args.burst if storage_url else 0))
    result: dict[str, float | str] = {"name": name}
    acks = Acks()
    await settled_cpu_seconds(pid)  # start-up work (migrations, the first scheduler pass) is not the load's
    cpu = cpu_seconds(pid)
    if args.wrk:
        result["rps"] = await asyncio.to_thread(wrk_saturate, url, payloads[:burst], args.seconds, args.concurrency, acks)
    else:
        result["rps"] = await saturate(url, payloads, 0, args.seconds, args.concurrency, acks)
    saturated = acks.count
    result["cpu_acked"] = (cpu_seconds(pid) - cpu) / saturated * 1000  # the answers' own work, judging not all done
    settled, result["settle_saturated"] = await settled_cpu_seconds(pid)
    result["cpu_saturated"] = (settled - cpu) / saturated * 1000
    result["p50"], result["p99"], result["rate"] = await fixed_rate(url, payloads, burst, args.rate, args.seconds, acks)
    cpu, (settled, result["settle_rate"]) = settled, await settled_cpu_seconds(pid)
    result["cpu_rate"] = (settled - cpu) / (acks.count - saturated) * 1000
    if storage_url:
        first = burst + int(args.rate * args.seconds) + 100
        result["burst_rps"], result["backlog"], result["backlog_read"] = await burst_backlog(
            url, pid, payloads, first, args.burst, args.concurrency, acks
        )
    result["failed"] = acks.failed
    if storage_url:
        stored, promised = await stored_events(storage_url), promised_events(payloads, acks)
        # What wrk had sent as it stopped may have been stored too; nothing acknowledged may be missing.
        at_most = promised + promised_events(payloads, Acks(stored=acks.in_flight))
        result["rows"] = f"{stored}/{promised}" + ("" if promised <= stored <= at_most else " MISMATCH")
    return result


def ratio(result: dict[str, float | str], ceiling: dict[str, float | str], figure: str) -> str:
    return f"{float(result[figure]) / float(ceiling[figure]):.1f}x"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--burst", type=int, default=10000, help="deliveries in the burst after which the evaluation backlog is timed")
    parser.add_argument("--postgres", help="also measure on this empty PostgreSQL database URL (postgresql+asyncpg://...)")
    parser.add_argument("--wrk", action="store_true", help="drive the saturated phase with wrk (Debian's package) instead of Python")
    parser.add_argument("--code", default="", help="run the service from this checkout instead of this one")
    args = parser.parse_args()
    if args.wrk and not wrk_load.available():
        parser.error("--wrk needs wrk on the PATH (Debian: apt-get install wrk)")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        targets = {"ceiling: bare HMAC handler": "", "session companion (SQLite)": f"sqlite+aiosqlite:///{tmp}/bench.db"}
        if args.postgres:
            targets["session companion (PostgreSQL)"] = args.postgres
        for name, storage_url in targets.items():
            port = free_port()
            if not storage_url:
                proc = subprocess.Popen([sys.executable, "-c", CEILING_SERVER, str(port), SECRET])
            else:
                proc = start_service(Path(tmp), port, storage_url, Path(args.code).resolve() if args.code else ROOT)
            try:
                results.append(await measure(name, f"http://127.0.0.1:{port}/webhooks/zoom", proc.pid, storage_url, args))
            finally:
                proc.terminate()
                proc.wait(timeout=10)
    ceiling = results[0]
    print("saturated: CPU ms per acknowledged request, at the last answer and once the server is quiet (x: times the bare handler's)")
    print(f"{'server':32} {'req/s':>6} {'at last ack':>15} {'when quiet':>15} {'quiet after':>11}")
    for r in results:
        print(
            f"{r['name']:32} {r['rps']:6.0f} {r['cpu_acked']:8.3f} {ratio(r, ceiling, 'cpu_acked'):>6}"
            f" {r['cpu_saturated']:8.3f} {ratio(r, ceiling, 'cpu_saturated'):>6} {r['settle_saturated']:10.1f}s"
        )
    print(f"open loop at {args.rate:.0f}/s: acknowledgement latency, CPU ms per acknowledged request once quiet")
    print(f"{'server':32} {'reached':>8} {'p50 ms':>7} {'p99 ms':>7} {'when quiet':>15} {'quiet after':>11} {'unanswered':>10}  rows stored/promised")
    for r in results:
        print(
            f"{r['name']:32} {r['rate']:6.0f}/s {r['p50']:7.2f} {r['p99']:7.2f} {r['cpu_rate']:8.3f} {ratio(r, ceiling, 'cpu_rate'):>6}"
            f" {r['settle_rate']:10.1f}s {r['failed']:10}  {r.get('rows', '-')}"
        )
    print(f"evaluation backlog after a burst of {args.burst} deliveries: seconds from the last answer until no session waits to be judged")
    for r in results[1:]:
        print(f"{r['name']:32} {r['burst_rps']:6.0f} req/s {r['backlog']:8.2f} s  (read from: {r['backlog_read']})")
    if any("MISMATCH" in str(r.get("rows", "")) for r in results):
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
