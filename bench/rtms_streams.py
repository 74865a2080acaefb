"""Benchmark: how many live RTMS streams one `companion serve` process follows, with a frame a second on each.

This process is Zoom: it posts signed webhooks that start N meetings with RTMS, serves every stream from the scripted
RTMS server on loopback, and has each followed client send one frame a second. Reported: streams connected and
following the client, frames received / analysed / dropped per second, and the service process's CPU and memory
(read from /proc). `--code DIR` runs the service from another checkout (e.g. `git archive c06847e`) to compare.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from bench.webhook_ingest import ready  # noqa: E402
from bot.config.starter import new_key  # noqa: E402
from bot.storage.store import session_id_for  # noqa: E402
from integrations.zoom.rtms import protocol as p  # noqa: E402
from integrations.zoom.scripted.rtms_server import RtmsScriptServer, ScriptedStream, demo_frame  # noqa: E402
from integrations.zoom.scripted.webhooks import ScriptedMeeting, ScriptedPerson  # noqa: E402
from integrations.zoom.signature import sign  # noqa: E402

SECRET = "bench-webhook-secret-Kq7Zp3"
RTMS_ID, RTMS_SECRET = "bench-rtms-app", "bench-rtms-secret-Vb8Nc2Lx5Rt9Hw4Qz7"
HOST_ID = "BENCH-HOST-0000000001"
TOKEN = "bench-token-of-the-therapist-Hc4Tz9Lp2Ws7"
CLIENT_RTMS_ID = 16779264


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path, port: int, max_streams: int | None) -> Path:
    config = folder / "bench.toml"
    limit = "" if max_streams is None else f"rtms_max_streams = {max_streams}\n"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n[storage]\nurl = "sqlite+aiosqlite:///{folder / "bench.db"}"\n'
        f'[zoom]\nwebhook_secret_token = "{SECRET}"\nrtms_client_id = "{RTMS_ID}"\nrtms_client_secret = "{RTMS_SECRET}"\n{limit}'
        f'[privacy]\ndata_key = "{new_key()}"\nnotes_keys = ["{new_key()}"]\n'
        f'[[therapists]]\nid = "b"\nname = "Bench"\napi_token = "{TOKEN}"\nzoom_user_id = "{HOST_ID}"\n',
        encoding="utf-8",
    )
    return config


def meetings(server: RtmsScriptServer, count: int) -> list[list[bytes]]:
    """Return each meeting's webhooks: started, therapist and client joined, RTMS started on the scripted server."""
    start = datetime.now(timezone.utc) - timedelta(minutes=5)
    out = []
    for n in range(count):
        uuid, stream_id = meeting_uuid(n), f"st-bench-{n}"
        meeting = ScriptedMeeting(start, f"8{n:010d}", uuid, HOST_ID)
        meeting.started(0)
        meeting.joined(5, ScriptedPerson("16778240", "Therapist", f"t-{n}", account_id=HOST_ID))
        meeting.joined(10, ScriptedPerson(str(CLIENT_RTMS_ID), "Client", f"c-{n}"))
        meeting.rtms_started(15, stream_id, server.open_stream(uuid, stream_id))
        out.append([json.dumps(body).encode() for _, body in meeting.steps])
    return out


async def post_all(base: str, per_meeting: list[list[bytes]], concurrency: int = 8) -> None:
    """Post every meeting's webhooks in order, `concurrency` meetings at a time."""
    todo = list(per_meeting)
    async with aiohttp.ClientSession() as http:

        async def sender() -> None:
            while todo:
                for raw in todo.pop():
                    ts = str(int(time.time()))
                    headers = {"x-zm-request-timestamp": ts, "x-zm-signature": sign(SECRET, ts, raw), "Content-Type": "application/json"}
                    async with http.post(f"{base}/webhooks/zoom", data=raw, headers=headers) as response:
                        assert response.status == 200, await response.text()

        await asyncio.gather(*(sender() for _ in range(concurrency)))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


async def metric(base: str, name: str) -> float:
    """Return the sum of a metric's samples over all its labels, as scraped from /metrics."""
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as response:
        text = await response.text()
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples if s.name == name)


def meeting_uuid(n: int) -> str:
    return f"bench-rtms-{n}=="


async def frames_received(base: str, count: int) -> int:
    """Return the frames the service counted over every session (its per-session frame statistics)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    total = 0
    async with aiohttp.ClientSession() as http:
        for n in range(count):
            async with http.get(f"{base}/api/sessions/{session_id_for('zoom', meeting_uuid(n))}", headers=headers) as response:
                total += ((await response.json()).get("frames") or {}).get("count", 0)
    return total


async def send_frames(streams: list[ScriptedStream], seconds: int, jpeg_text: str) -> int:
    """Send one frame a second on every stream that follows the client; return how many were sent."""
    sent = 0
    for _ in range(seconds):
        tick = time.perf_counter()
        at_ms = int(time.time() * 1000)
        for stream in streams:
            if stream.media is not None and stream.following is not None:
                content = {"user_id": CLIENT_RTMS_ID, "user_name": "Client", "data": jpeg_text, "timestamp": at_ms}
                await stream.media.ws.send_json({"msg_type": p.MEDIA_DATA_VIDEO, "content": content})
                sent += 1
        await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - tick)))
    return sent


async def run(args: argparse.Namespace) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this process holds the server's end of every socket
    server = RtmsScriptServer(RTMS_ID, RTMS_SECRET, keep_alive_seconds=10.0)
    await server.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    code = Path(args.code).resolve() if args.code else ROOT
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), port, args.max_streams)
        service = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--config", str(config)],
            cwd=code, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(code)},
        )
        try:
            await ready(base, "/healthz")  # what `--code` checkouts from before `/readyz` answer
            await post_all(base, meetings(server, args.streams))
            streams = list(server.streams.values())
            deadline = time.perf_counter() + args.connect_seconds
            while time.perf_counter() < deadline and sum(s.ready for s in streams) < args.streams:
                await asyncio.sleep(0.5)
            await asyncio.gather(*(s.send_event(p.PARTICIPANT_JOIN, int(time.time() * 1000), CLIENT_RTMS_ID, "Client") for s in streams))
            await asyncio.sleep(2)  # the subscriptions to the client's video
            connected, following = sum(s.ready for s in streams), sum(s.following is not None for s in streams)
            before = (cpu_seconds(service.pid), await metric(base, "companion_frames_analysed_total"), await metric(base, "companion_frames_dropped_total"))
            received_before = await frames_received(base, args.streams)
            jpeg_text = base64.b64encode(demo_frame()).decode()
            start = time.perf_counter()
            sent = await send_frames(streams, args.seconds, jpeg_text)
            await asyncio.sleep(1)
            elapsed = time.perf_counter() - start
            cpu = cpu_seconds(service.pid) - before[0]
            analysed = await metric(base, "companion_frames_analysed_total") - before[1]
            dropped = await metric(base, "companion_frames_dropped_total") - before[2]
            received = await frames_received(base, args.streams) - received_before
            print(f"streams asked {args.streams}: connected {connected}, following the client {following}")
            print(f"frames/s: sent {sent / elapsed:.0f}, received {received / elapsed:.0f}, analysed {analysed / elapsed:.1f}, dropped {dropped / elapsed:.0f}")
            print(f"service process: CPU {cpu / elapsed:.2f} of a core, RSS {rss_mb(service.pid):.0f} MB ({os.cpu_count()} cores, shared)")
        finally:
            service.terminate()
            service.wait(30)
            await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=20, help="how long every stream sends a frame a second")
    parser.add_argument("--connect-seconds", type=float, default=60, help="how long to wait for the streams to connect")
    parser.add_argument("--max-streams", type=int, default=None, help="[zoom] rtms_max_streams (absent: the default; old code knows no such key)")
    parser.add_argument("--code", default="", help="run the service from this checkout instead of this one")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
