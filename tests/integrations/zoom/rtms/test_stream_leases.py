"""One holder per RTMS stream (integrations/zoom/rtms/streams.py, holding.py): two app instances on one PostgreSQL
database with the scripted RTMS server; the holder alone connects, a dead holder's stream is taken over, and a
former holder's writes are refused."""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from bot.storage.stream_leases import StreamLeases
from bot.web import keys
from integrations.zoom.keys import RTMS
from integrations.zoom.rtms import protocol as p
from tests.fakes.metrics import scraped
from tests.fakes.rtms_server import RTMS_CLIENT_ID, RTMS_SECRET, eventually, jpeg
from tests.integrations.zoom.rtms.test_streams import (
    CLIENT,
    EXPECTED_VIDEO,
    SESSION,
    START,
    camera,
    deliver,
    following_the_client,
    ms,
    scripted_meeting,
    start_app,
    summary,
    video_events,
)

FAILOVER_SECONDS = 2  # renewals every 0.67 s, sweeps every 1 s
CLIENT_RTMS_ID = 16779264


async def two_instances(aiohttp_client: Any, make_settings: Any, postgres_url: str) -> tuple[Any, Any]:
    zoom = {"rtms_client_id": RTMS_CLIENT_ID, "rtms_client_secret": RTMS_SECRET, "rtms_fps": 2}
    settings = make_settings(postgres_url, zoom=zoom, cluster={"failover_seconds": FAILOVER_SECONDS})
    return await start_app(aiohttp_client, settings), await start_app(aiohttp_client, settings)


def killed(client: Any) -> None:
    """Stop an instance's stream work as `kill -9` would: no renewal, no release, no more writes (its sockets close)."""
    streams = client.app[RTMS]
    for task in (*streams.holding._tasks, streams._task, *(t for r in streams._runners.values() for t in (r._link, r._worker))):
        if task is not None:
            task.cancel()


async def ready(client: Any) -> dict[str, Any]:
    return await (await client.get("/readyz")).json()


async def test_only_the_holder_connects_and_another_instance_takes_a_dead_holders_stream(aiohttp_client, make_settings, postgres_url, rtms_server):
    first, second = await two_instances(aiohttp_client, make_settings, postgres_url)
    meeting = scripted_meeting(rtms_server)
    await deliver(first, meeting)
    await deliver(second, meeting, again=True)  # the same webhooks on the other instance too: it leaves the stream alone
    stream = await following_the_client(rtms_server)
    await camera(first, stream, False, 120)
    assert first.app[RTMS].runner(SESSION) is not None and second.app[RTMS].runner(SESSION) is None
    assert (await ready(first))["streams_owned"] == 1 and (await ready(second))["streams_owned"] == 0
    owned = ("companion_rtms_streams_owned", ())
    assert (await scraped(first))[owned] == 1 and (await scraped(second))[owned] == 0
    assert stream.handshakes == 1

    killed(first)
    await stream.drop()
    stream.turn_camera(CLIENT_RTMS_ID, True)  # during the gap: no event reaches any instance
    lost_at = asyncio.get_running_loop().time()
    await stream.wait_for(lambda s: s.handshakes == 2 and s.ready, timeout=4 * FAILOVER_SECONDS)
    took = asyncio.get_running_loop().time() - lost_at
    assert took < 2 * FAILOVER_SECONDS  # the lease lapses, the next sweep takes it, with no reconnect delay (room for a busy machine)
    await stream.wait_for(lambda s: s.following == CLIENT_RTMS_ID)  # the new holder follows the client from the stored roster
    assert second.app[RTMS].runner(SESSION) is not None and (await ready(second))["streams_owned"] == 1

    assert await stream.send_frame(jpeg(), ms(300))  # the new holder's first frame proves the camera on
    await eventually(lambda: _stored_on(second, 300))
    await camera(second, stream, False, 1500)
    meeting.left(1560, CLIENT)
    await deliver(second, meeting)
    assert (await summary(second))["client_video"] == EXPECTED_VIDEO
    assert rtms_server.problems == []


async def _stored_on(client: Any, offset: int) -> bool:
    return (START + timedelta(seconds=offset), True) in await video_events(client)


async def test_a_holder_whose_lease_was_taken_has_its_writes_refused_and_stops(aiohttp_client, make_settings, postgres_url, rtms_server, caplog):
    first, second = await two_instances(aiohttp_client, make_settings, postgres_url)
    meeting = scripted_meeting(rtms_server)
    await deliver(first, meeting)
    stream = await following_the_client(rtms_server)
    await first.app[RTMS].holding.stop()  # its renewals stop (a long pause), its stream stays open
    intruder = StreamLeases(first.app[RTMS].parts.tracker.store.engine, "another-instance")
    await eventually(lambda: _take(intruder), timeout=3 * FAILOVER_SECONDS)
    caplog.set_level(logging.INFO)

    assert await stream.send_event(p.PARTICIPANT_VIDEO_OFF, ms(120), CLIENT_RTMS_ID, CLIENT.name)
    await eventually(lambda: first.app[RTMS].owned_streams() == 0)
    assert await video_events(first) == []  # refused: the lease is another's
    await first.app[RTMS].settle()
    assert first.app[RTMS].runner(SESSION) is None  # it left the stream to its holder
    await stream.wait_for(lambda s: s.signaling is None)
    assert "refused" in caplog.text and CLIENT.name not in caplog.text
    assert second.app[RTMS].runner(SESSION) is None  # the intruder's lease is live: nobody else takes it


async def _take(leases: StreamLeases) -> bool:
    return await leases.take(SESSION, 60.0) is not None


async def test_the_holder_hears_of_webhooks_another_instance_stored_and_a_clean_stop_hands_the_stream_over_at_once(
    aiohttp_client, make_settings, postgres_url, rtms_server
):
    first, second = await two_instances(aiohttp_client, make_settings, postgres_url)
    meeting = scripted_meeting(rtms_server)
    await deliver(first, meeting)
    stream = await following_the_client(rtms_server)
    meeting.rtms_interrupted(700, stream.stream_id)
    await deliver(second, meeting)  # stored by the instance that does not hold the stream: the holder reconnects
    await stream.wait_for(lambda s: s.handshakes == 2 and s.ready)
    assert first.app[RTMS].runner(SESSION) is not None and second.app[RTMS].runner(SESSION) is None

    stopped_at = asyncio.get_running_loop().time()
    await first.close()  # a clean stop releases the lease and says so: no waiting for it to lapse
    await stream.wait_for(lambda s: s.handshakes == 3 and s.ready, timeout=FAILOVER_SECONDS)
    assert asyncio.get_running_loop().time() - stopped_at < FAILOVER_SECONDS
    assert second.app[RTMS].runner(SESSION) is not None

    meeting.ended(800)
    await deliver(second, meeting)
    await stream.wait_for(lambda s: s.signaling is None and s.media is None)
    assert second.app[RTMS].runner(SESSION) is None and second.app[RTMS].owned_streams() == 0


async def test_an_instance_taking_over_a_stream_judges_its_session_at_once(aiohttp_client, make_settings, postgres_url, rtms_server, monkeypatch):
    # The dead holder may have stored the stream's last camera change and died before judging it: the new holder
    # judges the session as it takes the stream, not only at the next event.
    first, second = await two_instances(aiohttp_client, make_settings, postgres_url)
    meeting = scripted_meeting(rtms_server)
    await deliver(first, meeting)
    stream = await following_the_client(rtms_server)
    await camera(first, stream, False, 120)
    asked: list[str] = []
    evaluation = second.app[keys.EVALUATION]
    monkeypatch.setattr(evaluation, "submit", lambda session_id: asked.append(session_id))
    killed(first)
    await stream.drop()
    await stream.wait_for(lambda s: s.handshakes == 2 and s.ready, timeout=4 * FAILOVER_SECONDS)
    await eventually(lambda: SESSION in asked)
