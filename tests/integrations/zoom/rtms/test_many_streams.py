"""Many RTMS streams in one service: past aiohttp's default 100 sockets, and `[zoom] rtms_max_streams` refusing the one beyond it."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, AsyncIterator

import pytest

from bot.core.events import VideoStateChanged
from bot.storage.store import session_id_for
from bot.web import keys
from bot.web.app import create_app
from integrations.zoom.keys import RTMS, RTMS_TIMING
from integrations.zoom.rtms import Backoff, RtmsTiming
from integrations.zoom.rtms import protocol as p
from integrations.zoom.scripted.rtms_server import RtmsScriptServer
from integrations.zoom.scripted.webhooks import ScriptedMeeting
from tests.conftest import THERAPIST_A_HOST, signed_headers
from tests.fakes.metrics import scraped
from tests.fakes.rtms_server import RTMS_CLIENT_ID, RTMS_SECRET, eventually, jpeg
from tests.integrations.zoom.rtms.test_streams import CLIENT, START, THERAPIST, Clock, ms, rtms_settings

STREAMS = 120  # each holds two sockets: more than aiohttp's default connector (100 sockets) carries
# Patient enough for a loaded machine, brief enough that a stream left waiting for a socket gives up within the test.
TIMING = RtmsTiming(backoff=Backoff(first=0.05, cap=0.1, attempts=2), silence_seconds=30.0, connect_seconds=5.0)


@pytest.fixture
async def quiet_rtms_server() -> AsyncIterator[RtmsScriptServer]:
    """A fake RTMS server with Zoom's own keep-alive pace, so that many streams cost little."""
    server = RtmsScriptServer(RTMS_CLIENT_ID, RTMS_SECRET, keep_alive_seconds=10.0)
    await server.start()
    yield server
    await server.stop()


def uuid(n: int) -> str:
    return f"many-{n:03d}-Qz8TgW0b1Kc9vY=="


def stream_id(n: int) -> str:
    return f"st-many-{n:03d}"


async def start_meetings(client: Any, server: RtmsScriptServer, count: int) -> None:
    """Post each meeting's webhooks (started, therapist and client joined, RTMS started), signed."""
    for n in range(count):
        meeting = ScriptedMeeting(START, str(81000000000 + n), uuid(n), THERAPIST_A_HOST, topic="Weekly session")
        meeting.started(0)
        meeting.joined(5, THERAPIST)
        meeting.joined(60, CLIENT)
        meeting.rtms_started(10, stream_id(n), server.open_stream(uuid(n), stream_id(n)))
        for _, body in meeting.steps:
            raw = json.dumps(body).encode()
            response = await client.post("/webhooks/zoom", data=raw, headers=signed_headers(raw))
            assert response.status == 200, await response.text()
    await client.app[RTMS].settle()


async def camera_off_with_frames(server: RtmsScriptServer, n: int) -> None:
    """Have stream `n` report the client present, followed, sending two frames, then their camera going off."""
    stream = server.streams[stream_id(n)]
    await stream.wait_for(lambda s: s.ready, timeout=60)
    await stream.send_event(p.PARTICIPANT_JOIN, ms(60), int(CLIENT.user_id), CLIENT.name)
    await stream.wait_for(lambda s: s.following == int(CLIENT.user_id), timeout=60)
    for second in (100, 101):
        assert await stream.send_frame(jpeg(), ms(second))
    assert await stream.send_event(p.PARTICIPANT_VIDEO_OFF, ms(120), int(CLIENT.user_id), CLIENT.name)


async def stored_camera_changes(client: Any, n: int) -> int:
    store = client.app[keys.STORE]
    row = await store.session(session_id_for("zoom", uuid(n)))
    return 0 if row is None else sum(isinstance(e, VideoStateChanged) for e in await store.session_events(row.meeting))


async def every_camera_change_stored(client: Any) -> bool:
    counts = [await stored_camera_changes(client, n) for n in range(STREAMS)]
    return all(count == 1 for count in counts)


async def test_more_than_fifty_streams_connect_follow_the_client_and_store_their_camera_events(aiohttp_client, make_settings, quiet_rtms_server):
    app = create_app(rtms_settings(make_settings), clock=Clock())
    app[RTMS_TIMING] = TIMING
    client = await aiohttp_client(app)
    await start_meetings(client, quiet_rtms_server, STREAMS)

    await asyncio.gather(*(camera_off_with_frames(quiet_rtms_server, n) for n in range(STREAMS)))
    await eventually(lambda: every_camera_change_stored(client), timeout=120)

    assert all(quiet_rtms_server.streams[stream_id(n)].handshakes == 1 for n in range(STREAMS))
    assert quiet_rtms_server.problems == []
    await eventually(lambda: all(client.app[keys.FRAMES].session_json(session_id_for("zoom", uuid(n))) for n in range(STREAMS)))
    assert {client.app[keys.FRAMES].session_json(session_id_for("zoom", uuid(n)))["count"] for n in range(STREAMS)} == {2}
    metrics = await scraped(client)
    assert metrics[("companion_rtms_streams_open", ())] == STREAMS
    assert metrics[("companion_frames_dropped_total", (("stage", "queue"),))] == 0
    assert metrics[("companion_rtms_streams_refused_total", ())] == 0


async def test_a_stream_beyond_rtms_max_streams_is_refused_named_and_counted_and_opens_once_one_closes(
    aiohttp_client, make_settings, quiet_rtms_server, caplog
):
    caplog.set_level(logging.INFO, logger="integrations.zoom.rtms")
    app = create_app(rtms_settings(make_settings, rtms_max_streams=3), clock=Clock())
    app[RTMS_TIMING] = TIMING
    client = await aiohttp_client(app)
    await start_meetings(client, quiet_rtms_server, 4)
    for n in range(3):
        await quiet_rtms_server.streams[stream_id(n)].wait_for(lambda s: s.ready)

    beyond = quiet_rtms_server.streams[stream_id(3)]
    assert beyond.handshakes == 0 and client.app[RTMS].runner(session_id_for("zoom", uuid(3))) is None
    refusals = [r.getMessage() for r in caplog.records if "rtms_max_streams" in r.getMessage()]
    assert refusals == [
        f"RTMS stream {stream_id(3)} of session {session_id_for('zoom', uuid(3))} refused: 3 streams are open or opening, "
        "[zoom] rtms_max_streams is 3 (the client's video is NOT tracked until one closes)"
    ]
    assert CLIENT.name not in refusals[0] and uuid(3) not in refusals[0]
    metrics = await scraped(client)
    assert metrics[("companion_rtms_streams_refused_total", ())] == 1
    assert metrics[("companion_rtms_streams_open", ())] == 3

    first = ScriptedMeeting(START, "81000000000", uuid(0), THERAPIST_A_HOST, topic="Weekly session")
    first.ended(900)
    raw = json.dumps(first.steps[-1][1]).encode()
    assert (await client.post("/webhooks/zoom", data=raw, headers=signed_headers(raw))).status == 200
    await beyond.wait_for(lambda s: s.ready, timeout=30)
    assert beyond.handshakes == 1
