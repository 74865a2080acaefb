"""Request limits: an announced oversized body is refused at once, a slow one cut off; the Server header names no version."""
from __future__ import annotations

import asyncio
import time

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.web import keys
from bot.web.app import create_app
from tests.conftest import TOKEN_A


async def exchange(port: int, head: bytes, trickle: bytes = b"", every: float = 5.0, within: float = 5.0) -> tuple[bytes, float, bool]:
    """Send `head`, then `trickle` a byte at a time; return the answer's first bytes, when it came, and whether the server closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(head)

    async def dribble() -> None:
        for byte in trickle:
            await asyncio.sleep(every)
            writer.write(bytes([byte]))

    dribbling = asyncio.create_task(dribble())
    try:
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), within)
        answered = time.monotonic() - started
        try:
            await asyncio.wait_for(reader.read(), within)  # the rest, up to the server's close
            closed = True
        except asyncio.TimeoutError:
            closed = False
        return answer, answered, closed
    finally:
        dribbling.cancel()
        writer.close()


async def started(aiohttp_client, app: web.Application):
    """Return a client of `app`, served as `companion serve` serves it: a short linger after a refused body."""
    server = TestServer(app)
    await server.start_server(lingering_time=1.0)
    return await aiohttp_client(server)


async def test_an_announced_body_beyond_the_limit_is_refused_at_once_without_waiting_for_it(aiohttp_client, settings):
    client = await started(aiohttp_client, create_app(settings))
    head = b"POST /webhooks/zoom HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n{}"
    answer, answered, closed = await exchange(client.server.port, head)
    assert answer.startswith(b"HTTP/1.1 413 ") and answered < 1.0
    assert b"Connection: close" in answer and closed


async def test_a_slow_body_is_cut_off_with_408_and_a_slow_answer_is_503_while_the_notice_stream_stays_open(aiohttp_client, make_settings):
    app = create_app(make_settings(server={"request_timeout_seconds": 1}))
    app[keys.STREAM_HEARTBEAT_SECONDS] = 0.2

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(10)
        return web.Response()

    app.router.add_get("/slow", slow)
    client = await started(aiohttp_client, app)
    stream = await client.get("/api/notices/stream", headers={"Authorization": f"Bearer {TOKEN_A}"})
    head = b"POST /webhooks/zoom HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"
    answer, answered, closed = await exchange(client.server.port, head, trickle=b'"a": 1', every=5.0)
    assert answer.startswith(b"HTTP/1.1 408 ") and 0.9 < answered < 3.0
    assert b"Connection: close" in answer and closed
    slow_answer = await client.get("/slow")
    assert slow_answer.status == 503 and "longer than 1 s" in (await slow_answer.json())["reason"]
    assert stream.status == 200 and not stream.content.at_eof()
    await asyncio.wait_for(stream.content.readline(), 5)  # still alive past the deadline: heartbeats keep coming
    stream.close()


async def test_every_answer_names_the_service_and_no_version(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    answers = [
        await client.get("/healthz"),
        await client.get("/no/such/path"),
        await client.post("/healthz"),
        await client.get("/api/sessions"),
        await client.post("/webhooks/zoom", data=b"x" * 2_000_000),
    ]
    assert [a.status for a in answers] == [200, 404, 405, 401, 413]
    for answer in answers:
        assert answer.headers["Server"] == "session-companion"


async def test_a_webhook_passes_one_guard_that_counts_it_bounds_it_and_refuses_an_unstorable_url(aiohttp_client, settings):
    app = create_app(settings)
    # Request ids, the guard (which answers a page's refusals as pages too) and the sign-in cookie (no proxies); one hook
    # sets every answer's headers.
    assert len(app.middlewares) == 3 and len(app.on_response_prepare) == 1
    client = await aiohttp_client(app)
    refused = await client.post("/webhooks/zoom?x=%00", data=b"{}")
    assert refused.status == 400 and "NUL" in (await refused.json())["reason"]
    assert refused.headers["Server"] == "session-companion" and len(refused.headers["X-Request-Id"]) == 16
    assert refused.headers["X-Content-Type-Options"] == "nosniff" and refused.headers["Cache-Control"] == "no-store"
    scrape = await (await client.get("/metrics")).text()
    assert 'companion_webhooks_total{outcome="refused",platform="zoom"} 1.0' in scrape
