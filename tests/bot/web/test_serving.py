"""A real `companion serve` under hostile connections: bounded, still answering, its log small and free of secrets."""
from __future__ import annotations

import asyncio
import json
import logging
import resource
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import aiohttp

from bot.web import serving
from integrations.zoom.scripted.webhooks import ScriptedMeeting
from tests.conftest import PRIVACY_TOML, SECRET, THERAPIST_A_HOST, TOKEN_A, signed_headers
from tests.fakes.companion_process import write_config
from tests.fakes.zoom_chat import FakeZoomChat

ROOT = Path(__file__).parents[3]
CAP, IDLE, SLOW = 50, 200, 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _low_soft_file_limit() -> None:
    """Start the service with a soft open-file limit below the hard one, as many systems do."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(512, hard), hard))


class Service:
    """`companion serve` in a subprocess, its output in a log file."""

    def __init__(self, folder: Path, **server: int) -> None:
        self.port, self.log = free_port(), folder / "server.log"
        extra = "".join(f"{key} = {value}\n" for key, value in server.items())
        self.config = folder / "companion.toml"
        self.config.write_text(
            f'[server]\nhost = "127.0.0.1"\nport = {self.port}\n{extra}'
            f'[storage]\nurl = "sqlite+aiosqlite:///{folder / "companion.db"}"\n[zoom]\nwebhook_secret_token = "{SECRET}"\n'
            f'[reminders]\nsync_interval_minutes = 0\n'
            f'{PRIVACY_TOML}'
            f'[[therapists]]\nid = "t1"\nname = "Therapist A"\napi_token = "{TOKEN_A}"\nzoom_user_id = "{THERAPIST_A_HOST}"\n',
            encoding="utf-8",
        )
        self.process: subprocess.Popen | None = None

    async def __aenter__(self) -> "Service":
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve", "--config", str(self.config)],
                cwd=ROOT, stdout=log, stderr=log, preexec_fn=_low_soft_file_limit,
            )
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"http://127.0.0.1:{self.port}/healthz") as answer:
                        if answer.status == 200:
                            return self
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
        raise AssertionError("the service did not start: " + self.log.read_text())

    async def __aexit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def timed(coro) -> tuple[object, float]:
    started = time.monotonic()
    result = await coro
    return result, time.monotonic() - started


async def slow_body(port: int) -> tuple[bytes, float]:
    """Send a webhook's headers, then its body a byte every 5 s; return the answer and when the server closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(b"POST /webhooks/zoom HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{")

    async def dribble() -> None:
        while True:
            await asyncio.sleep(5)
            writer.write(b" ")

    dribbling = asyncio.create_task(dribble())
    try:
        answer = await asyncio.wait_for(reader.read(), 15)  # everything, up to the server's close
        return answer, time.monotonic() - started
    finally:
        dribbling.cancel()
        writer.close()


async def test_a_burst_of_idle_and_slow_connections_leaves_the_service_answering_and_its_log_small(tmp_path):
    async with Service(tmp_path, max_connections=CAP, request_timeout_seconds=2) as service:
        port, idle = service.port, []
        slow = [asyncio.create_task(slow_body(port)) for _ in range(SLOW)]
        await asyncio.sleep(0.3)
        try:
            for _ in range(IDLE):
                idle.append(await asyncio.open_connection("127.0.0.1", port))
            await asyncio.sleep(0.3)
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
                health, took = await timed(http.get(f"http://127.0.0.1:{port}/healthz"))
                assert health.status == 200 and took < 1.0
                health.release()
                meeting = ScriptedMeeting(datetime.now(timezone.utc), "85746065432", "burst==", THERAPIST_A_HOST)
                meeting.started(0)
                raw = json.dumps(meeting.steps[0][1]).encode()
                webhook, took = await timed(http.post(f"http://127.0.0.1:{port}/webhooks/zoom", data=raw, headers=signed_headers(raw)))
                assert webhook.status == 200 and took < 1.0
                assert (await webhook.json())["status"] == "stored"
            for answer, closed_after in await asyncio.gather(*slow):
                assert answer.startswith(b"HTTP/1.1 408 ") and closed_after < 6.0  # 2 s to arrive, 1 s of linger
        finally:
            for task in slow:
                task.cancel()
            for _, writer in idle:
                writer.close()
        pid = service.process.pid
        limits = Path(f"/proc/{pid}/limits")
        if limits.exists():  # Linux: the soft open-file limit was raised to the hard one
            (line,) = [line for line in limits.read_text().splitlines() if line.startswith("Max open files")]
            soft, hard = line.split()[3:5]
            assert soft == hard, line
    log = service.log.read_text()
    assert service.log.stat().st_size < 64 * 1024
    assert log.count("connection cap reached") == 1, log
    assert "Traceback" not in log


async def test_the_log_of_a_real_service_holds_no_token_and_no_query_and_no_answer_names_a_version(tmp_path):
    async with Service(tmp_path) as service:
        url = f"http://127.0.0.1:{service.port}"
        servers = []
        async with aiohttp.ClientSession() as http:
            for path, params in (("/api/notices", {"access_token": TOKEN_A, "kind": "x"}), ("/nowhere", {"access_token": TOKEN_A})):
                async with http.get(url + path, params=params, headers={"Referer": f"{url}/?access_token={TOKEN_A}"}) as answer:
                    servers.append(answer.headers.get("Server"))
            async with http.post(url + "/api/stream-tickets", headers={"Authorization": f"Bearer {TOKEN_A}"}) as answer:
                ticket = (await answer.json())["ticket"]
            async with http.get(url + "/api/notices/stream", params={"ticket": ticket, "last_event_id": "\u00b2"}) as answer:
                assert answer.status == 400
                servers.append(answer.headers.get("Server"))
        for request in (
            f"GET /api/notices/stream?access_token={TOKEN_A} HTTP/9.9\r\nHost: x\r\n\r\n",
            f"GET /api/notices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN_A}\x01\r\n\r\n",
        ):
            reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
            writer.write(request.encode())
            answer = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            assert answer.startswith(b"HTTP/1.0 400 ") and TOKEN_A.encode() not in answer
            servers.append(answer.split(b"Server: ", 1)[1].split(b"\r\n", 1)[0].decode())
    assert servers == ["session-companion"] * len(servers)
    log = service.log.read_text()
    assert TOKEN_A not in log and "access_token" not in log and ticket not in log
    access = [line for line in log.splitlines() if " aiohttp.access: " in line]
    assert len(access) >= 3 and not [line for line in access if "?" in line]
    assert log.count("malformed HTTP") == 1  # the second is held back for a minute


def test_the_soft_open_file_limit_is_raised_to_the_hard_one(monkeypatch):
    calls = []
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, 65536))
    monkeypatch.setattr(resource, "setrlimit", lambda which, limits: calls.append(limits))
    assert serving.raise_open_file_limit() == 65536
    assert calls == [(65536, 65536)]


def test_the_connection_cap_leaves_room_for_the_files_the_service_needs(caplog):
    caplog.set_level(logging.WARNING)
    assert serving.connection_cap(1000, 65536) == 1000
    assert not caplog.records
    assert serving.connection_cap(1000, 1024) == 768
    assert "max_connections is 1000, but the open-file limit (1024) leaves room for 768" in caplog.text


def test_an_open_file_limit_too_low_for_the_rtms_streams_is_named_with_the_setting(caplog):
    caplog.set_level(logging.WARNING)
    serving.check_stream_room(1000, 65536)
    assert not caplog.records
    serving.check_stream_room(1000, 1024)
    assert "[zoom] rtms_max_streams is 1000: its sockets need about 2256 open files, but the open-file limit is 1024" in caplog.text



async def test_a_port_in_use_stops_companion_serve_with_a_message_before_anything_starts(tmp_path):
    zoom = FakeZoomChat()  # the Zoom API the meeting sync would call at once, were it started
    await zoom.start()
    config = write_config(tmp_path, free_port(), zoom="\n".join(f'{key} = "{value}"' for key, value in zoom.settings().items()), reminders="sync_interval_minutes = 1")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", "--config", str(config), "--port", str(port),
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        taken.close()
        await zoom.stop()
    assert process.returncode == 1, (out, err)
    assert err.decode().strip().splitlines()[-1] == (
        f"companion: cannot listen on 127.0.0.1:{port}: the port is in use (another companion serve?): stop it, or choose another with [server] port or --port"
    )
    assert "Traceback" not in err.decode()
    # Nothing behind: no database (so no due work), no meeting sync run.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["companion.toml"]
    assert sum(zoom.hits.values()) == 0


async def test_serving_keeps_what_start_up_made_from_the_collector_and_gives_it_back_at_shutdown(make_settings, monkeypatch):
    # A full collection walked every object start-up made (about 100 ms each, on the loop, under load).
    import gc

    settings = make_settings()
    frozen: list[int] = []
    opened = serving._opened

    async def opened_and_watched(*args, **kwargs):
        runner = await opened(*args, **kwargs)
        asyncio.get_running_loop().call_soon(lambda: (frozen.append(gc.get_freeze_count()), signal.raise_signal(signal.SIGTERM)))
        return runner

    monkeypatch.setattr(serving, "_opened", opened_and_watched)
    try:
        await asyncio.wait_for(serving._serve(settings, 0), 60)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().remove_signal_handler(signum)
    assert frozen and frozen[0] > 10_000  # the modules, routes and engine: out of the collector's sight while serving
    assert gc.get_freeze_count() == 0  # and back in it at shutdown, so a connection abandoned then is collected
