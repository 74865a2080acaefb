"""Frames of the followed client close a video-off interval whose 'on' event was lost (integrations/zoom/rtms/camera.py)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.core import events as ev
from bot.web import keys
from bot.web.app import create_app
from integrations.zoom.keys import RTMS, RTMS_TIMING
from integrations.zoom.rtms import protocol as p
from integrations.zoom.rtms.camera import CameraEvidence
from integrations.zoom.rtms.runner import event_key
from tests.fakes.rtms_server import eventually, jpeg
from tests.integrations.zoom.rtms.test_streams import (
    CLIENT,
    FAST,
    SESSION,
    START,
    Clock,
    camera,
    deliver,
    following_the_client,
    ms,
    rtms_settings,
    scripted_meeting,
    summary,
    video_events,
)

CLIENT_ID = 16779264
THERAPIST_ID = 16778240


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def following(user: str = str(CLIENT_ID)) -> CameraEvidence:
    evidence = CameraEvidence()
    evidence.follow(user)
    return evidence


def test_frames_prove_the_camera_on_once_per_off_period():
    evidence = following()
    evidence.stored(at(120))
    assert evidence.frame(str(CLIENT_ID), at(120)) is None  # taken as the camera went off
    seen = evidence.frame(str(CLIENT_ID), at(305))
    assert seen is not None and (seen.rtms_id, seen.at) == (str(CLIENT_ID), at(305))
    assert [evidence.frame(str(CLIENT_ID), at(305 + n)) for n in range(1, 5)] == [None] * 4
    assert evidence.stored(at(120)) is None  # a view read before the 'on' was stored changes nothing
    evidence.settled()
    assert evidence.stored(None) is None and evidence.frame(str(CLIENT_ID), at(320)) is None
    evidence.stored(at(400))  # the next off period gets its own 'on'
    assert evidence.frame(str(CLIENT_ID), at(410)).at == at(410)


def test_frames_of_another_participant_or_before_the_off_prove_nothing():
    evidence = following()
    evidence.stored(at(120))
    assert evidence.frame(str(THERAPIST_ID), at(200)) is None
    assert evidence.frame(str(CLIENT_ID), at(100)) is None
    assert CameraEvidence().stored(at(120)) is None and CameraEvidence().frame(str(CLIENT_ID), at(200)) is None


def test_an_off_stored_late_is_closed_by_the_first_frame_seen_after_it():
    evidence = following()
    evidence.stored(None)
    assert [evidence.frame(str(CLIENT_ID), at(s)) for s in (140, 200, 201)] == [None] * 3
    assert evidence.stored(at(150)).at == at(200)


def test_an_on_that_failed_to_store_is_tried_again_at_the_next_view():
    evidence = following()
    evidence.stored(at(120))
    assert evidence.frame(str(CLIENT_ID), at(305)) is not None
    evidence.settled()  # the store failed: the view still says off
    assert evidence.stored(at(120)).at == at(305)


def test_the_on_a_frame_proves_has_the_storage_key_of_the_rtms_event_it_stands_for():
    meeting = ev.MeetingRef("zoom", "u==")
    evidence = following()
    evidence.stored(at(-60))
    seen = evidence.frame(str(CLIENT_ID), at(305.25))
    real = p.ParticipantUpdate(p.PARTICIPANT_VIDEO_ON, ms(305.25), CLIENT_ID, "Sam Client")
    assert event_key(meeting, seen.update()) == event_key(meeting, real)
    assert seen.update().at == at(305.25)


async def start(aiohttp_client: Any, settings: Any, clock: Clock) -> Any:
    app = create_app(settings, clock=clock)
    app[RTMS_TIMING] = FAST
    return await aiohttp_client(app)


async def frames(client: Any, stream: Any, offsets: list[float], user_id: int | None = None) -> None:
    """Send frames and wait until the service has handled them and stored what they prove."""
    before = (client.app[keys.FRAMES].session_json(SESSION) or {"count": 0})["count"]
    for offset in offsets:
        assert await stream.send_frame(jpeg(), ms(offset), user_id=user_id)
    await eventually(lambda: (client.app[keys.FRAMES].session_json(SESSION) or {"count": 0})["count"] == before + len(offsets))
    await client.app[RTMS].runner(SESSION).settle()
    await client.app[keys.EVALUATION].drain()


@pytest.mark.parametrize("gap", ["no-event", "reconnect", "restart"])
async def test_frames_after_a_lost_on_event_end_the_interval_at_the_first_frame(aiohttp_client, make_settings, rtms_server, gap):
    clock = Clock()
    clock.now = at(121)
    settings = rtms_settings(make_settings)
    client = await start(aiohttp_client, settings, clock)
    meeting = scripted_meeting(rtms_server)
    await deliver(client, meeting)
    stream = await following_the_client(rtms_server)
    await camera(client, stream, False, 120)
    clock.now = at(300)
    client.app[keys.EVALUATION].submit(SESSION)
    await client.app[keys.EVALUATION].drain()
    if gap == "reconnect":
        await stream.drop()
        await stream.wait_for(lambda s: s.handshakes == 2 and s.following == CLIENT_ID)
    elif gap == "restart":
        await client.close()
        await stream.wait_for(lambda s: s.signaling is None)
        client = await start(aiohttp_client, settings, clock)
        await stream.wait_for(lambda s: s.handshakes == 2 and s.following == CLIENT_ID)
    stream.turn_camera(CLIENT_ID, on=True)  # at 305: Zoom's 'video on' never reaches the service

    clock.now = at(310)
    await frames(client, stream, [305 + n * 0.5 for n in range(10)])
    assert await video_events(client) == [(at(120), False), (at(305), True)]
    clock.now = at(1600)
    meeting.left(1560, CLIENT)
    await deliver(client, meeting)

    assert (await summary(client))["client_video"] == {
        "off_intervals": [{"start": "2026-11-20T10:02:00Z", "end": "2026-11-20T10:05:05Z", "seconds": 185}],
        "off_count": 1,
        "off_total_seconds": 185,
        "longest_off_seconds": 185,
    }
    result = await summary(client)
    assert [a["at"] for a in result["alerts"] if a["kind"] == "client_video_off"] == ["2026-11-20T10:03:00Z"]
    assert len(await client.app[keys.STORE].notices("t1", kind="client_video_off")) == 1  # none every 5 min after 10:05:05
    assert rtms_server.problems == []


async def test_frames_while_the_camera_is_on_store_nothing(aiohttp_client, make_settings, rtms_server):
    client = await start(aiohttp_client, rtms_settings(make_settings), Clock())
    await deliver(client, scripted_meeting(rtms_server))
    stream = await following_the_client(rtms_server)
    await frames(client, stream, [100 + n * 0.5 for n in range(6)])  # never reported off
    await camera(client, stream, False, 120)
    await camera(client, stream, True, 300)
    await frames(client, stream, [300.5 + n * 0.5 for n in range(10)])
    assert await video_events(client) == [(at(120), False), (at(300), True)]


async def test_frames_of_another_participant_leave_the_clients_interval_open(aiohttp_client, make_settings, rtms_server):
    client = await start(aiohttp_client, rtms_settings(make_settings), Clock())
    meeting = scripted_meeting(rtms_server)
    await deliver(client, meeting)
    stream = await following_the_client(rtms_server)
    await camera(client, stream, False, 120)
    await frames(client, stream, [200, 200.5, 201], user_id=THERAPIST_ID)  # the therapist's, still in flight
    assert await video_events(client) == [(at(120), False)]
    stream.turn_camera(CLIENT_ID, on=True)
    await frames(client, stream, [400])
    assert (await summary(client))["client_video"]["off_intervals"] == [
        {"start": "2026-11-20T10:02:00Z", "end": "2026-11-20T10:06:40Z", "seconds": 280}
    ]
