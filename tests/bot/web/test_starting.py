"""The starting door (bot/web/starting.py): health checks answered while the app starts, every other request kept for the app, unread."""
from __future__ import annotations

import asyncio
import socket

import aiohttp
from aiohttp import web

from bot.web.serving import bind
from bot.web.starting import StartingDoor


async def started_app() -> web.AppRunner:
    """A stand-in for the service's app, started: it says who answered, and what it was sent."""

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"by": "app", "path": request.path, "body": await request.text()})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    return runner


async def test_health_checks_are_answered_while_starting_and_other_requests_reach_the_app_whole_once_started():
    sockets = bind("127.0.0.1", 0)
    port = sockets[0].getsockname()[1]
    door = StartingDoor(sockets, limit=100)
    door.open()
    runner = None
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz?probe=1") as health:
                assert health.status == 200 and await health.json() == {"status": "ok"}
            async with http.get(f"http://127.0.0.1:{port}/readyz") as ready:
                assert ready.status == 503 and (await ready.json())["reasons"] == ["the service is starting"]
            held = asyncio.create_task(http.post(f"http://127.0.0.1:{port}/webhooks/zoom", data=b'{"event": "x"}'))
            silent = await asyncio.open_connection("127.0.0.1", port)  # connected, nothing sent yet
            await asyncio.sleep(0.2)
            assert not held.done()  # kept, not answered: the app is not there yet
            runner = await started_app()
            assert runner.server is not None
            await door.hand_over(runner.server)
            for sock in sockets:
                await web.SockSite(runner, sock).start()
            answer = await asyncio.wait_for(held, 5)
            assert answer.status == 200 and await answer.json() == {"by": "app", "path": "/webhooks/zoom", "body": '{"event": "x"}'}
            reader, writer = silent
            writer.write(b"GET /later HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # the app took this connection too
            assert b'"by": "app"' in await asyncio.wait_for(reader.read(), 5)
            writer.close()
            async with http.get(f"http://127.0.0.1:{port}/healthz") as health:  # now the app's own route
                assert (await health.json())["by"] == "app"
    finally:
        if runner is not None:
            await runner.cleanup()
        await door.close()
        for sock in sockets:
            sock.close()


async def test_a_door_closed_after_a_failed_start_closes_what_it_held():
    sockets = bind("127.0.0.1", 0)
    port = sockets[0].getsockname()[1]
    door = StartingDoor(sockets, limit=100)
    door.open()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/sessions HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.sleep(0.1)
        await door.close()
        try:
            answer = await asyncio.wait_for(reader.read(), 5)
        except ConnectionResetError:  # closed with the request unread: the kernel resets it
            answer = b""
        assert answer == b""  # closed, unanswered: the service did not start
        writer.close()
    finally:
        for sock in sockets:
            sock.close()



async def test_a_connection_accepted_in_the_step_the_door_stops_reaches_the_app():
    # The door sees a new connection in the very step it is told to stop. Accepting by a cancellable sock_accept
    # lost it: the accept ran after its future was cancelled, and the accepted connection was dropped unanswered.
    sockets = bind("127.0.0.1", 0)
    door = StartingDoor(sockets, limit=100)
    door.open()
    runner = await started_app()
    await asyncio.sleep(0)  # the door waits for a connection
    client = socket.create_connection(sockets[0].getsockname())  # made at once on loopback: waiting to be accepted
    client.settimeout(5)
    try:
        await asyncio.sleep(0)  # the next step sees it: the door's accept is queued behind this task's hand-over
        assert runner.server is not None
        await door.hand_over(runner.server)
        for sock in sockets:
            await web.SockSite(runner, sock).start()
        client.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = await asyncio.to_thread(_read_all, client)
        assert b'"by": "app"' in answer, answer
    finally:
        client.close()
        await runner.cleanup()
        await door.close()
        for sock in sockets:
            sock.close()


def _read_all(client: socket.socket) -> bytes:
    answer = b""
    try:
        while chunk := client.recv(4096):
            answer += chunk
    except OSError:  # reset: what came is the answer
        pass
    return answer
