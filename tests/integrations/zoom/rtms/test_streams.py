"""RTMS end to end: signed webhooks, the real client and the fake RTMS server on loopback (integrations/zoom/rtms/streams.py)."""
from __future__ import annotations

import asyncio
import json
import logging
import socket
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from bot.core.events import VideoStateChanged
from bot.storage.store import session_id_for
from bot.tracking.frames import Frame
from bot.web import keys
from bot.web.app import create_app
from integrations.zoom.keys import RTMS, RTMS_TIMING
from integrations.zoom.rtms import Backoff, RtmsTiming
from integrations.zoom.rtms import protocol as p
from integrations.zoom.scripted.rtms_server import RtmsScriptServer
from integrations.zoom.scripted.webhooks import ScriptedMeeting, ScriptedPerson
from tests.conftest import THERAPIST_A_HOST, TOKEN_A, signed_headers
from tests.fakes.metrics import scraped
from tests.fakes.rtms_server import (
    RTMS_CLIENT_ID,
    RTMS_SECRET,
    broken_client,
    eventually,
    jpeg,
)

START = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
UUID = "mN4x+Qz8TgW0b1Kc9vYp2A=="
SESSION = session_id_for("zoom", UUID)
STREAM = "609340fb2a7946909659956c8aa9250c"
FAST = RtmsTiming(backoff=Backoff(first=0.01, cap=0.05, attempts=5), silence_seconds=1.0, connect_seconds=2.0)
THERAPIST = ScriptedPerson("16778240", "Dr Ruth Therapist", "A1B2C3D4-0000-4000-8000-00000000000A", account_id=THERAPIST_A_HOST)
CLIENT = ScriptedPerson("16779264", "Sam Client", "C1C2C3C4-0000-4000-8000-00000000000C", email="sam.client@example.net")
AUTH = {"Authorization": f"Bearer {TOKEN_A}"}


class Clock:
    def __init__(self) -> None:
        self.now = START + timedelta(seconds=1600)

    def __call__(self) -> datetime:
        return self.now


def ms(offset: float) -> int:
    return int((START + timedelta(seconds=offset)).timestamp() * 1000)


def rtms_settings(make_settings: Any, secret: str = RTMS_SECRET, **zoom: Any) -> Any:
    return make_settings(zoom={"rtms_client_id": RTMS_CLIENT_ID, "rtms_client_secret": secret, "rtms_fps": 2, **zoom})


async def start_app(aiohttp_client: Any, settings: Any) -> Any:
    app = create_app(settings, clock=Clock())
    app[RTMS_TIMING] = FAST
    return await aiohttp_client(app)


async def deliver(client: Any, meeting: ScriptedMeeting, again: bool = False) -> None:
    """Post the meeting's webhooks not delivered yet (all of them `again`), signed, and let the service act on them."""
    delivered = 0 if again else getattr(meeting, "delivered", 0)
    for _, body in meeting.steps[delivered:]:
        raw = json.dumps(body).encode()
        response = await client.post("/webhooks/zoom", data=raw, headers=signed_headers(raw))
        assert response.status == 200, await response.text()
    meeting.delivered = len(meeting.steps)  # type: ignore[attr-defined]
    await client.app[RTMS].settle()
    await client.app[keys.EVALUATION].drain()


def scripted_meeting(server: RtmsScriptServer) -> ScriptedMeeting:
    meeting = ScriptedMeeting(START, "85746065432", UUID, THERAPIST_A_HOST, topic="Weekly session")
    meeting.started(0)
    meeting.joined(5, THERAPIST)
    meeting.joined(60, CLIENT)
    meeting.rtms_started(10, STREAM, server.open_stream(UUID, STREAM))
    return meeting


async def video_events(client: Any) -> list[tuple[datetime, bool]]:
    store = client.app[keys.STORE]
    events = await store.session_events((await store.session(SESSION)).meeting)
    return [(e.at, e.on) for e in events if isinstance(e, VideoStateChanged)]


async def following_the_client(server: RtmsScriptServer, user_id: int = 16779264) -> Any:
    stream = server.streams[STREAM]
    await stream.wait_for(lambda s: s.ready)
    await stream.send_event(p.PARTICIPANT_JOIN, ms(5), 16778240, THERAPIST.name)
    await stream.send_event(p.PARTICIPANT_JOIN, ms(60), user_id, CLIENT.name)
    await stream.wait_for(lambda s: s.following == user_id)
    return stream


async def camera(client: Any, stream: Any, on: bool, offset: float, user_id: int = 16779264) -> None:
    """Have the fake report the client's camera, and wait until the service has stored it."""
    before = len(await video_events(client))
    assert await stream.send_event(p.PARTICIPANT_VIDEO_ON if on else p.PARTICIPANT_VIDEO_OFF, ms(offset), user_id, CLIENT.name)
    await eventually(lambda: _more(client, before))
    await client.app[keys.EVALUATION].drain()


async def _more(client: Any, before: int) -> bool:
    return len(await video_events(client)) > before


async def summary(client: Any) -> dict[str, Any]:
    response = await client.get(f"/api/sessions/{SESSION}/summary", headers=AUTH)
    assert response.status == 200
    return await response.json()


EXPECTED_VIDEO = {
    "off_intervals": [
        {"start": "2026-11-20T10:02:00Z", "end": "2026-11-20T10:05:00Z", "seconds": 180},
        {"start": "2026-11-20T10:25:00Z", "end": "2026-11-20T10:26:00Z", "seconds": 60},
    ],
    "off_count": 2,
    "off_total_seconds": 240,
    "longest_off_seconds": 180,
}


async def test_the_clients_camera_reported_over_rtms_gives_the_video_off_intervals(aiohttp_client, make_settings, rtms_server):
    client = await start_app(aiohttp_client, rtms_settings(make_settings))
    meeting = scripted_meeting(rtms_server)
    await deliver(client, meeting)
    stream = await following_the_client(rtms_server)
    assert stream.media_params == {"codec": 5, "resolution": 1, "data_opt": 4, "fps": 2}
    await camera(client, stream, False, 120)
    assert not await stream.send_frame(jpeg(), ms(200))  # no frames while the camera is off, as in Zoom
    await camera(client, stream, True, 300)
    assert await stream.send_frame(jpeg(640, 360), ms(310))
    await camera(client, stream, False, 1500)
    meeting.left(1560, CLIENT)
    await deliver(client, meeting)

    result = await summary(client)
    assert result["client_video"] == EXPECTED_VIDEO
    assert ("client_video_off", "2026-11-20T10:03:00Z") in [(a["kind"], a["at"]) for a in result["alerts"]]
    notices = await client.app[keys.STORE].notices("t1", kind="client_video_off")
    assert notices and "Sam" not in notices[0].message
    await eventually(lambda: client.app[keys.FRAMES].session_json(SESSION) is not None)
    detail = await (await client.get(f"/api/sessions/{SESSION}", headers=AUTH)).json()
    assert detail["frames"] == {"count": 1, "unreadable": 0, "last_frame_at": "2026-11-20T10:05:10Z", "width": 640, "height": 360}
    assert detail["client_video"]["off_count"] == 2
    assert rtms_server.problems == [] and stream.handshakes == 1


async def test_a_forced_disconnect_mid_session_reconnects_and_the_summary_is_unchanged(aiohttp_client, make_settings, rtms_server):
    client = await start_app(aiohttp_client, rtms_settings(make_settings))
    meeting = scripted_meeting(rtms_server)
    await deliver(client, meeting)
    stream = await following_the_client(rtms_server)
    await camera(client, stream, False, 120)
    await camera(client, stream, True, 300)

    await stream.drop()
    await stream.wait_for(lambda s: s.handshakes == 2 and s.ready)
    await stream.wait_for(lambda s: s.following == 16779264)  # the subscription is made again on the new connection
    await stream.send_event(p.PARTICIPANT_VIDEO_ON, ms(300), 16779264, CLIENT.name)  # Zoom replaying: stored once
    await camera(client, stream, False, 1500)
    meeting.left(1560, CLIENT)
    await deliver(client, meeting)

    assert (await summary(client))["client_video"] == EXPECTED_VIDEO
    assert len(await video_events(client)) == 3
    assert rtms_server.problems == []
    metrics = await scraped(client)
    assert metrics[("companion_rtms_streams_open", ())] == 1 and metrics[("companion_rtms_reconnects_total", ())] == 1


async def test_a_wrong_signature_is_refused_by_the_server_and_reported_clearly(aiohttp_client, make_settings, rtms_server, caplog):
    client = await start_app(aiohttp_client, rtms_settings(make_settings, secret="not-the-secret-of-the-rtms-app-Xq7Lw3"))
    caplog.set_level(logging.ERROR, logger="integrations.zoom.rtms")
    await deliver(client, scripted_meeting(rtms_server))
    await eventually(lambda: client.app[RTMS].runner(SESSION).state == "refused")
    runner = client.app[RTMS].runner(SESSION)
    assert "refused the signaling handshake (status_code 11: invalid signature)" in runner.problem
    assert "rtms_client_secret" in runner.problem
    assert any("invalid signature" in r.getMessage() and SESSION in r.getMessage() for r in caplog.records)
    assert rtms_server.refused == 1 and rtms_server.streams[STREAM].handshakes == 0  # not retried: it cannot help


async def test_our_client_answers_every_keep_alive_on_both_sockets_and_a_silent_one_is_dropped(aiohttp_client, make_settings, rtms_server):
    client = await start_app(aiohttp_client, rtms_settings(make_settings))
    await deliver(client, scripted_meeting(rtms_server))
    stream = await following_the_client(rtms_server)
    await stream.wait_for(lambda s: min(s.answered.values()) >= 12)  # > 3 x the drop limit on each socket
    assert rtms_server.silence_drops == 0 and stream.handshakes == 1 and stream.ready

    other = rtms_server.open_stream("other-meeting==", "st-broken")
    assert await broken_client(other, "other-meeting==", "st-broken", seconds=2.0)
    assert rtms_server.silence_drops == 1


async def test_a_silent_server_counts_as_missed_keep_alives_and_we_reconnect(aiohttp_client, make_settings):
    server = RtmsScriptServer(RTMS_CLIENT_ID, RTMS_SECRET, keep_alive_seconds=60)
    await server.start()
    try:
        app = create_app(rtms_settings(make_settings), clock=Clock())
        app[RTMS_TIMING] = RtmsTiming(backoff=FAST.backoff, silence_seconds=0.1, connect_seconds=2.0)
        client = await aiohttp_client(app)
        await deliver(client, scripted_meeting(server))
        await server.streams[STREAM].wait_for(lambda s: s.handshakes >= 2)
        assert "silent" in client.app[RTMS].runner(SESSION).problem
    finally:
        await server.stop()


@pytest.mark.parametrize(
    "change, reconnects",
    [
        (lambda m: m.rtms_stopped(700, STREAM, 1), False),
        (lambda m: m.rtms_stopped(700, STREAM, 6), False),
        (lambda m: m.ended(700), False),
        (lambda m: m.rtms_stopped(700, STREAM, 12), True),
        (lambda m: m.rtms_stopped(700, STREAM, 24), True),
        (lambda m: m.rtms_interrupted(700, STREAM), True),
        (lambda m: m.rtms_started(700, STREAM, m.steps[-1][1]["payload"]["server_urls"]), True),
    ],
    ids=["stopped-1", "stopped-6-meeting-ended", "meeting-ended", "stopped-12", "stopped-24", "interrupted", "started-again"],
)
async def test_webhooks_close_or_restart_the_stream(aiohttp_client, make_settings, rtms_server, change, reconnects):
    client = await start_app(aiohttp_client, rtms_settings(make_settings))
    meeting = scripted_meeting(rtms_server)
    await deliver(client, meeting)
    stream = await following_the_client(rtms_server)
    change(meeting)
    await deliver(client, meeting)
    if reconnects:
        await stream.wait_for(lambda s: s.handshakes == 2 and s.ready)
        assert client.app[RTMS].runner(SESSION) is not None
    else:
        await stream.wait_for(lambda s: s.signaling is None and s.media is None)
        assert client.app[RTMS].runner(SESSION) is None and stream.handshakes == 1
    await deliver(client, meeting, again=True)  # Zoom redelivering the same webhooks changes nothing
    await asyncio.sleep(0.05)
    assert stream.handshakes == (2 if reconnects else 1)


async def test_zoom_closing_the_stream_is_answered_and_not_reconnected(aiohttp_client, make_settings, rtms_server):
    client = await start_app(aiohttp_client, rtms_settings(make_settings))
    await deliver(client, scripted_meeting(rtms_server))
    stream = await following_the_client(rtms_server)
    await stream.request_close()
    await eventually(lambda: client.app[RTMS].runner(SESSION).state == "closed")
    await stream.wait_for(lambda s: s.signaling is None and s.media is None)
    assert stream.handshakes == 1 and rtms_server.problems == []


async def test_reconnecting_gives_up_after_the_bounded_attempts(aiohttp_client, make_settings, caplog):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = await start_app(aiohttp_client, rtms_settings(make_settings))
    meeting = ScriptedMeeting(START, "85746065432", UUID, THERAPIST_A_HOST)
    meeting.started(0)
    meeting.rtms_started(10, STREAM, f"ws://127.0.0.1:{port}/signaling")
    await deliver(client, meeting)
    await eventually(lambda: client.app[RTMS].runner(SESSION).state == "failed")
    assert "cannot reach the RTMS server" in client.app[RTMS].runner(SESSION).problem
    assert any("giving up after 6 attempts" in r.getMessage() for r in caplog.records)  # 1 + 5 retries


async def test_a_restarted_service_resumes_the_stream_of_a_live_meeting(aiohttp_client, make_settings, rtms_server):
    settings = rtms_settings(make_settings)
    first = await start_app(aiohttp_client, settings)
    await deliver(first, scripted_meeting(rtms_server))
    stream = await following_the_client(rtms_server)
    await camera(first, stream, False, 120)
    await first.close()
    await stream.wait_for(lambda s: s.signaling is None)

    second = await start_app(aiohttp_client, settings)
    await stream.wait_for(lambda s: s.handshakes == 2 and s.ready)
    await camera(second, stream, True, 300)
    assert (await summary(second))["client_video"]["off_intervals"][0]["seconds"] == 180


async def test_the_subscription_moves_when_the_client_rejoins_with_a_new_id(aiohttp_client, make_settings, rtms_server):
    client = await start_app(aiohttp_client, rtms_settings(make_settings))
    meeting = scripted_meeting(rtms_server)
    await deliver(client, meeting)
    stream = await following_the_client(rtms_server)
    meeting.left(600, CLIENT)
    meeting.joined(640, CLIENT.rejoined("16780288"))
    await deliver(client, meeting)
    await stream.send_event(p.PARTICIPANT_LEAVE, ms(600), 16779264, CLIENT.name)
    await stream.send_event(p.PARTICIPANT_JOIN, ms(640), 16780288, CLIENT.name)
    await stream.wait_for(lambda s: s.following == 16780288)
    await camera(client, stream, False, 700, user_id=16780288)
    assert (await summary(client))["client_video"]["off_count"] == 1


async def test_a_slow_frame_sink_never_delays_event_handling(aiohttp_client, make_settings, rtms_server):
    class SleepySink:
        frames = 0

        async def handle(self, frame: Frame) -> None:
            SleepySink.frames += 1
            await asyncio.sleep(3600)

    client = await start_app(aiohttp_client, rtms_settings(make_settings))
    client.app[keys.FRAMES].add_sink(SleepySink(), maxsize=2)
    await deliver(client, scripted_meeting(rtms_server))
    stream = await following_the_client(rtms_server)
    picture = jpeg()
    for n in range(60):
        assert await stream.send_frame(picture, ms(100 + n * 0.5))
    await camera(client, stream, False, 131)  # stored while the sink still sleeps on its first frame
    await eventually(lambda: client.app[keys.FRAMES].session_json(SESSION)["count"] == 60)
    assert SleepySink.frames == 1 and client.app[keys.FRAMES].dropped >= 57
    assert (await summary(client))["client_video"]["off_count"] == 1


async def test_without_rtms_credentials_events_are_stored_and_a_warning_says_video_is_not_tracked(aiohttp_client, make_settings, rtms_server, caplog):
    caplog.set_level(logging.WARNING, logger="integrations.zoom.rtms")
    client = await start_app(aiohttp_client, make_settings())
    await deliver(client, scripted_meeting(rtms_server))
    warnings = [r.getMessage() for r in caplog.records if "rtms_client_id" in r.getMessage()]
    assert len(warnings) == 1 and "NOT tracked" in warnings[0]
    events = await client.app[keys.STORE].session_events((await client.app[keys.STORE].session(SESSION)).meeting)
    assert "stream_started" in [e.kind for e in events]
    assert rtms_server.streams[STREAM].handshakes == 0 and client.app[RTMS].runner(SESSION) is None


async def test_a_camera_change_with_an_unbelievable_time_is_left_out_and_the_stream_goes_on(aiohttp_client, make_settings, rtms_server):
    client = await start_app(aiohttp_client, rtms_settings(make_settings))
    await deliver(client, scripted_meeting(rtms_server))
    stream = await following_the_client(rtms_server)
    assert await stream.send_event(p.PARTICIPANT_VIDEO_OFF, -62135596800000, 16779264, CLIENT.name)  # the year 1
    await camera(client, stream, False, 120)
    assert await video_events(client) == [(START + timedelta(seconds=120), False)]
    assert (await summary(client))["client_video"]["off_count"] == 1
