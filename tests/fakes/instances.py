"""Several `companion serve` processes on one PostgreSQL database, with a notice-stream reader for each (issue 16's tests)."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import PRIVACY_TOML, SECRET, THERAPIST_A_HOST, TOKEN_A, free_port, signed_headers
from tests.fakes.companion_process import CompanionProcess
from tests.fakes.rtms_server import RTMS_CLIENT_ID, RTMS_SECRET

FAILOVER_SECONDS = 2  # [cluster] failover_seconds in these tests (10 by default)


def cluster_config(folder: Path, port: int, storage_url: str, extra: str = "") -> Path:
    """Write one instance's settings: all instances share everything but the port."""
    path = folder / f"companion-{port}.toml"
    path.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n[storage]\nurl = "{storage_url}"\n{PRIVACY_TOML}'
        f'[zoom]\nwebhook_secret_token = "{SECRET}"\nrtms_client_id = "{RTMS_CLIENT_ID}"\nrtms_client_secret = "{RTMS_SECRET}"\n'
        f"[cluster]\nfailover_seconds = {FAILOVER_SECONDS}\n[framing]\nenabled = false\n{extra}\n"
        f'[[therapists]]\nid = "t1"\nname = "Therapist A"\napi_token = "{TOKEN_A}"\nzoom_user_id = "{THERAPIST_A_HOST}"\n'
        '[[clients]]\ncode = "C-17"\ntherapist = "t1"\nzoom_meeting_ids = ["85746065432"]\n',
        encoding="utf-8",
    )
    return path


@dataclass
class NoticeReader:
    """One open notice stream of therapist t1's on one instance: every notice it received, in order."""

    base: str
    received: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    closed: bool = False

    @property
    def ids(self) -> list[int]:
        return [n["id"] for n in self.received]

    async def open(self) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{self.base}/api/stream-tickets", headers={"Authorization": f"Bearer {TOKEN_A}"}) as answer:
                assert answer.status == 201, await answer.text()
                ticket = (await answer.json())["ticket"]
        opened = asyncio.Event()
        self.task = asyncio.create_task(self._read(ticket, opened))
        await asyncio.wait_for(opened.wait(), 10)

    async def _read(self, ticket: str, opened: asyncio.Event) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                async with http.get(f"{self.base}/api/notices/stream", params={"ticket": ticket}) as answer:
                    assert answer.status == 200, await answer.text()
                    opened.set()
                    name, data = "", ""
                    async for raw in answer.content:
                        line = raw.decode().rstrip("\n")
                        if line.startswith("event: "):
                            name = line[7:]
                        elif line.startswith("data: "):
                            data = line[6:]
                        elif not line and name:
                            if name == "notice":
                                self.received.append(json.loads(data))
                            name, data = "", ""
        except (aiohttp.ClientError, asyncio.IncompleteReadError, ConnectionError):
            pass  # the instance was killed: the stream ends with it
        finally:
            self.closed = True

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


class Instances:
    """`count` `companion serve` processes sharing one PostgreSQL database, each on its own loopback port."""

    def __init__(self, folder: Path, storage_url: str, count: int, extra: str = "") -> None:
        self.processes: list[CompanionProcess] = []
        for n in range(count):
            port = free_port()
            self.processes.append(CompanionProcess(cluster_config(folder, port, storage_url, extra), port, folder / f"instance-{n}.log"))
        self.alive = set(range(count))
        self._next = 0

    async def start(self) -> None:
        """Start them all at the same moment and wait until every one is ready."""
        await asyncio.gather(*(p.start() for p in self.processes))

    def stop(self) -> None:
        for n in sorted(self.alive):
            self.processes[n].stop()
        self.alive.clear()

    def kill(self, n: int) -> None:
        """End instance `n` with SIGKILL, as a crash would: nothing of it is shut down cleanly."""
        self.processes[n].kill()
        self.alive.discard(n)

    def logs(self) -> str:
        return "\n".join(f"--- instance {n}\n{p.log.read_text()}" for n, p in enumerate(self.processes) if p.log.exists())

    async def readiness(self, n: int) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{self.processes[n].base}/readyz") as answer:
                return dict(await answer.json())

    async def leaders(self) -> list[int]:
        """Return the live instances that say they are the leader."""
        return [n for n in sorted(self.alive) if (await self.readiness(n)).get("leader") is True]

    async def stream_owners(self) -> list[int]:
        """Return the live instances that say they own an RTMS stream."""
        return [n for n in sorted(self.alive) if (await self.readiness(n)).get("streams_owned", 0) > 0]

    async def post(self, body: dict[str, Any]) -> int:
        """Deliver one signed webhook to the next live instance in turn (round-robin); return which one took it."""
        alive = sorted(self.alive)
        n = alive[self._next % len(alive)]
        self._next += 1
        raw = json.dumps(body).encode()
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{self.processes[n].base}/webhooks/zoom", data=raw, headers=signed_headers(raw)) as answer:
                assert answer.status == 200, await answer.text()
        return n

    async def api(self, n: int, path: str) -> Any:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{self.processes[n].base}{path}", headers={"Authorization": f"Bearer {TOKEN_A}"}) as answer:
                assert answer.status == 200, await answer.text()
                return await answer.json()

    async def reader(self, n: int) -> NoticeReader:
        reader = NoticeReader(self.processes[n].base)
        await reader.open()
        return reader
