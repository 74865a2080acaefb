"""Two instances on one PostgreSQL database: every notice, session change and delivery update reaches the streams on both."""
from __future__ import annotations

import asyncio
import json
from collections import Counter

from bot.web import keys
from bot.web.app import create_app
from tests.conftest import signed_headers
from tests.fakes.fixtures import raise_notice

from .test_stream import STREAM, bearer, next_event
from .test_stream import TOKEN_A as TOKEN


async def linked(*clients) -> None:
    """Wait until every instance's own link is open and listening."""
    for client in clients:
        async with asyncio.timeout(10):
            while not client.app[keys.CLUSTER].connected:
                await asyncio.sleep(0.02)


async def two_instances(aiohttp_client, settings):
    """Start two instances of the service on the same settings (one database) and wait for their links."""
    one = await aiohttp_client(create_app(settings))
    two = await aiohttp_client(create_app(settings))
    await linked(one, two)
    return one, two


async def notice_ids(stream, count: int) -> list[int]:
    """Read `count` notice events and return their ids, in the order they came."""
    ids = []
    while len(ids) < count:
        event = await next_event(stream)
        if event["event"] == "notice":
            ids.append(int(event["id"]))
    return ids


async def nothing_more(stream, seconds: float = 0.5) -> None:
    """Check that no notice comes within `seconds`."""
    try:
        event = await next_event(stream, seconds)
    except asyncio.TimeoutError:
        return
    assert event["event"] != "notice", event


async def test_a_notice_raised_on_one_instance_reaches_a_stream_on_the_other_once(aiohttp_client, make_settings, postgres_url):
    one, two = await two_instances(aiohttp_client, make_settings(postgres_url))
    there = await two.get(STREAM, headers=bearer(TOKEN))
    here = await one.get(STREAM, headers=bearer(TOKEN))
    first = await raise_notice(one.app, "t1", "s-a", "recording_started", 1, "Someone started recording the meeting.")
    event = await next_event(there)
    assert (event["id"], event["data"]["message"], event["data"]["delivery"]) == (str(first), "Someone started recording the meeting.", {"dashboard": "delivered"})
    assert await notice_ids(here, 1) == [first]
    second = await raise_notice(two.app, "t1", "s-a", "third_party_joined", 2)
    assert await notice_ids(there, 1) == [second]
    assert await notice_ids(here, 1) == [second]
    await nothing_more(there)
    await nothing_more(here)
    here.close()
    there.close()


async def test_notices_raised_at_once_on_both_reach_every_stream_in_id_order_each_once(aiohttp_client, make_settings, postgres_url):
    one, two = await two_instances(aiohttp_client, make_settings(postgres_url))
    streams = [await client.get(STREAM, headers=bearer(TOKEN)) for client in (one, two, one, two)]
    raised = await asyncio.gather(
        *(raise_notice((one, two)[n % 2].app, "t1", f"s-{n % 3}", "third_party_joined", n, f"Another person joined ({n}).") for n in range(60))
    )
    for stream in streams:
        seen = await notice_ids(stream, len(raised))
        assert seen == sorted(raised)  # every one, none twice, in strictly increasing id order
        await nothing_more(stream, 0.2)
        stream.close()


async def test_a_stream_resuming_on_the_other_instance_gets_exactly_the_missed_notices_then_the_new(aiohttp_client, make_settings, postgres_url):
    one, two = await two_instances(aiohttp_client, make_settings(postgres_url))
    stream = await one.get(STREAM, headers=bearer(TOKEN))
    before = [await raise_notice(one.app, "t1", "s-a", "third_party_joined", n) for n in range(2)]
    assert await notice_ids(stream, 2) == before
    stream.close()
    missed = [await raise_notice(one.app, "t1", "s-a", "third_party_joined", n) for n in range(2, 5)]
    resumed = await two.get(STREAM, headers={**bearer(TOKEN), "Last-Event-ID": str(before[-1])})
    assert await notice_ids(resumed, 3) == missed
    later = await raise_notice(one.app, "t1", "s-a", "recording_started", 5)
    assert await notice_ids(resumed, 1) == [later]
    await nothing_more(resumed)
    resumed.close()


async def test_notices_raised_while_the_link_was_cut_arrive_once_it_is_back(aiohttp_client, make_settings, postgres_url):
    one, two = await two_instances(aiohttp_client, make_settings(postgres_url))
    stream = await two.get(STREAM, headers=bearer(TOKEN))
    link = two.app[keys.CLUSTER]
    await link.stop()  # no notification can reach this instance now
    gap = [await raise_notice(one.app, "t1", "s-a", "third_party_joined", n) for n in range(3)]
    await nothing_more(stream)
    link.start()  # linked again: it reads what it missed
    assert await notice_ids(stream, 3) == gap
    # Cut by the server this time: whatever was raised around the cut comes once, in order.
    pid = link._connection.get_server_pid()
    async with one.app[keys.STORE].engine.connect() as conn:
        await conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
    around = [await raise_notice(one.app, "t1", "s-a", "recording_started", n) for n in range(3)]
    await linked(two)
    assert await notice_ids(stream, 3) == around
    await nothing_more(stream)
    stream.close()


async def test_session_changes_and_delivery_updates_reach_the_other_instance_once(aiohttp_client, alert_settings, postgres_url, fake_zoom, meeting_deliveries):
    one, two = await two_instances(aiohttp_client, alert_settings(postgres_url, t1_channels=["dashboard", "zoom_chat"]))
    streams = [await client.get(STREAM, headers=bearer(TOKEN)) for client in (one, two)]
    raw = json.dumps(meeting_deliveries[0]).encode()
    assert (await one.post("/webhooks/zoom", data=raw, headers=signed_headers(raw))).status == 200
    await one.app[keys.EVALUATION].drain()
    (session,) = await one.app[keys.STORE].sessions("t1")
    fake_zoom.down("message", status=403)
    notice_id = await raise_notice(one.app, "t1", session.id, "recording_started")
    await asyncio.gather(one.app[keys.DELIVERIES].drain(), two.app[keys.DELIVERIES].drain())
    seen: list[Counter[str]] = []
    for stream in streams:
        events = []
        try:
            while True:
                events.append(await next_event(stream, 1.0))
        except asyncio.TimeoutError:
            pass
        seen.append(Counter(json.dumps([e["event"], e["data"].get("session_id"), e["data"].get("notice_id"), e["data"].get("state")]) for e in events))
        assert [e["data"] for e in events if e["event"] == "delivery"].count({"notice_id": notice_id, "channel": "zoom_chat", "state": "failed"}) == 1
        stream.close()
    assert seen[0][json.dumps(["session", session.id, None, None])] >= 1
    assert seen[0] == seen[1]  # each change once on each instance: none lost on the way, none echoed back
