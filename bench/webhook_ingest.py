"""Benchmark signed-webhook ingest on loopback: the service beside a bare HMAC-only aiohttp handler.

Run: python bench/webhook_ingest.py [--seconds 5] [--rate 500] [--concurrency 32] [--postgres URL]
Each server runs in its own process; this process is the load generator. Reported: requests/s
at saturation, and p50/p99 acknowledgement latency at a fixed (open-loop) request rate.
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
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config.starter import new_key  # noqa: E402
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


async def saturate(url: str, payloads: list[bytes], seconds: float, concurrency: int) -> float:
    """Return requests/s with `concurrency` senders for `seconds`."""
    sent = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def sender() -> None:
            nonlocal sent
            while time.perf_counter() < deadline and sent < len(payloads):
                raw = payloads[sent]
                sent += 1
                async with http.post(url, data=raw, headers=headers(raw)) as response:
                    assert response.status == 200, response.status

        began = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        return sent / (time.perf_counter() - began)


async def fixed_rate(url: str, payloads: list[bytes], rate: float, seconds: float) -> tuple[float, float, float]:
    """Send at `rate` per second (open loop); return p50 and p99 latency in ms, and the rate reached."""
    latencies: list[float] = []
    total = int(rate * seconds)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def one(raw: bytes) -> None:
            began = time.perf_counter()
            async with http.post(url, data=raw, headers=headers(raw)) as response:
                assert response.status == 200, response.status
            latencies.append((time.perf_counter() - began) * 1000)

        tasks = []
        began = time.perf_counter()
        for n in range(total):
            delay = began + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(payloads[n])))
        await asyncio.gather(*tasks)
        reached = total / (time.perf_counter() - began)
    q = statistics.quantiles(latencies, n=100)
    return q[49], q[98], reached


def start_service(folder: Path, port: int, storage_url: str) -> subprocess.Popen:
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
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def measure(name: str, url: str, args: argparse.Namespace) -> dict[str, float]:
    await wait_up(url)
    payloads = bodies(int(args.seconds * 4000) + int(args.rate * args.seconds) + 100)
    saturation = await saturate(url, payloads[: int(args.seconds * 4000)], args.seconds, args.concurrency)
    p50, p99, reached = await fixed_rate(url, payloads[int(args.seconds * 4000):], args.rate, args.seconds)
    return {"name": name, "rps": saturation, "p50": p50, "p99": p99, "rate": reached}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--postgres", help="also measure on this empty PostgreSQL database URL (postgresql+asyncpg://...)")
    args = parser.parse_args()
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
                proc = start_service(Path(tmp), port, storage_url)
            try:
                results.append(await measure(name, f"http://127.0.0.1:{port}/webhooks/zoom", args))
            finally:
                proc.terminate()
                proc.wait(timeout=10)
    print(f"{'server':32} {'req/s (saturated)':>18} {'p50 ms':>8} {'p99 ms':>8}  at rate")
    for r in results:
        print(f"{r['name']:32} {r['rps']:18.0f} {r['p50']:8.2f} {r['p99']:8.2f}  {r['rate']:.0f}/s")


if __name__ == "__main__":
    asyncio.run(main())
