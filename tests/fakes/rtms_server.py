"""The fake Zoom RTMS server for tests: the shipped scripted server on loopback, plus real JPEGs, a live session and a broken client."""
from __future__ import annotations

import asyncio
import io
import time
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from PIL import Image

from integrations.zoom.rtms import protocol as p
from integrations.zoom.scripted.rtms_server import RtmsScriptServer, ScriptedStream
from integrations.zoom.scripted.webhooks import ScriptedMeeting, ScriptedPerson

RTMS_CLIENT_ID = "rtms-app-Q7c2"
RTMS_SECRET = "rtms-secret-x9Lm4-Wq2Zc7Hk5Nf3Dy8"
KEEP_ALIVE_SECONDS = 0.05  # Zoom sends one every 10 s; the tests run the same rule 200 times faster


def jpeg(width: int = 640, height: int = 360, colour: tuple[int, int, int] = (90, 120, 150)) -> bytes:
    """Return a real baseline JPEG of the given size."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG", quality=70)
    return out.getvalue()


@pytest.fixture
async def rtms_server() -> AsyncIterator[RtmsScriptServer]:
    """A running fake RTMS server that expects the test RTMS credentials."""
    server = RtmsScriptServer(RTMS_CLIENT_ID, RTMS_SECRET, keep_alive_seconds=KEEP_ALIVE_SECONDS)
    await server.start()
    yield server
    await server.stop()


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout: float = 5.0) -> None:
    """Poll `check` until it holds; fail the test after `timeout` seconds of real time."""
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if await result if asyncio.iscoroutine(result) else result:
                return
            await asyncio.sleep(0.01)


async def followed_session(
    server: RtmsScriptServer,
    meeting: ScriptedMeeting,
    stream_id: str,
    therapist: ScriptedPerson,
    client: ScriptedPerson,
    post: Callable[[dict[str, Any]], Awaitable[object]],
    timeout: float,
) -> ScriptedStream:
    """Start `meeting` through `post` (started, therapist in, RTMS started, client in); return its stream once it follows the client."""
    meeting.started(0)
    meeting.joined(5, therapist)
    meeting.rtms_started(6, stream_id, server.open_stream(meeting.uuid, stream_id))
    meeting.joined(10, client)
    for _, body in meeting.steps:
        await post(body)
    stream = server.streams[stream_id]
    await stream.wait_for(lambda s: s.ready, timeout=timeout)
    for person in (therapist, client):
        await stream.send_event(p.PARTICIPANT_JOIN, int(time.time() * 1000), int(person.user_id), person.name)
    await stream.wait_for(lambda s: s.following == int(client.user_id), timeout=timeout)
    return stream


async def broken_client(url: str, meeting_uuid: str, stream_id: str, seconds: float) -> bool:
    """Complete the signaling handshake, then ignore keep-alives; return whether the server dropped us."""
    signature = p.sign(RTMS_CLIENT_ID, RTMS_SECRET, meeting_uuid, stream_id)
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_json(p.signaling_handshake(meeting_uuid, stream_id, signature, 1))
        try:
            async with asyncio.timeout(seconds):
                async for _ in ws:  # read, never answer
                    pass
        except TimeoutError:
            return False
        return ws.closed
