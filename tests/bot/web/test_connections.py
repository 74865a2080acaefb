"""The connection cap: idle connections make room for new ones, busy ones never; beyond that, closed at once, said once."""
from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.web.serving import start

CAP_WARNING = "connection cap reached"


async def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def healthz(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    try:
        return await asyncio.wait_for(reader.read(), 2)
    except ConnectionError:
        return b""
    finally:
        writer.close()


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), 0.5) == b""
    except ConnectionError:
        return True
    except asyncio.TimeoutError:
        return False


@pytest.fixture
async def served(make_settings):
    runners = []

    async def serve(**server):
        runner = await start(make_settings(server=server), 0)
        runners.append(runner)
        return runner, runner.addresses[0][1]

    yield serve
    for runner in runners:
        await runner.cleanup()


async def test_at_the_cap_the_oldest_idle_connections_make_room_and_the_warning_is_said_once(served, caplog):
    caplog.set_level(logging.INFO)
    runner, port = await served(max_connections=3)
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(10)]
    await wait_for(lambda: runner.server.open_count == 3)
    answers = [await healthz(port) for _ in range(5)]  # the first takes the place of the oldest idle one left
    assert all(answer.startswith(b"HTTP/1.1 200 ") for answer in answers)
    assert [await closed_by_server(reader) for reader, _ in idle] == [True] * 8 + [False] * 2
    assert runner.server.open_count <= 3
    assert len([r for r in caplog.records if CAP_WARNING in r.getMessage()]) == 1
    for _, writer in idle:
        writer.close()


async def test_with_every_connection_busy_a_new_one_is_closed_at_once_until_one_is_free(served, caplog):
    caplog.set_level(logging.INFO)
    runner, port = await served(max_connections=2, request_timeout_seconds=2)
    busy = []
    for _ in range(2):  # two slow bodies: requests under way, never closed for room
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /webhooks/zoom HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{")
        busy.append((reader, writer))
    await wait_for(lambda: runner.server.open_count == 2)
    await asyncio.sleep(0.1)  # their headers are read: both are handling a request
    started = time.monotonic()
    assert [await healthz(port) for _ in range(5)] == [b""] * 5
    assert time.monotonic() - started < 1.0
    for reader, _ in busy:  # cut off at the deadline, which frees their places
        assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 408 ")
    await wait_for(lambda: runner.server.open_count == 0)
    assert (await healthz(port)).startswith(b"HTTP/1.1 200 ")
    assert len([r for r in caplog.records if CAP_WARNING in r.getMessage()]) == 1
    for _, writer in busy:
        writer.close()
