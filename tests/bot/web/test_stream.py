"""The therapist's live notice stream: authentication, scoping, resuming, heartbeats and delivery states."""
from __future__ import annotations

import asyncio
import json

from bot.web import keys
from bot.web import stream as stream_module
from bot.web.app import create_app
from tests.conftest import TOKEN_A, TOKEN_B
from tests.fakes.fixtures import raise_notice
from tests.statements import Statements

STREAM = "/api/notices/stream"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def ticket(client, token: str = TOKEN_A) -> str:
    """Return a new stream ticket of the therapist whose API token this is."""
    answer = await client.post("/api/stream-tickets", headers=bearer(token))
    assert answer.status == 201
    return (await answer.json())["ticket"]


async def next_event(response, timeout: float = 5.0) -> dict:
    """Read one event (skipping comments) and return its fields, with `data` parsed."""
    fields: dict = {}
    while True:
        line = (await asyncio.wait_for(response.content.readline(), timeout)).decode().rstrip("\n")
        if not line:
            if fields:
                fields["data"] = json.loads(fields["data"])
                return fields
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(": ")
        fields[name] = value


async def test_the_stream_needs_a_token_in_the_header_or_a_ticket_and_a_numeric_last_event_id(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    assert (await client.get(STREAM)).status == 401
    assert (await client.get(STREAM, params={"ticket": "nope"})).status == 401
    in_the_url = await client.get(STREAM, params={"access_token": TOKEN_A})  # a long-lived token in a URL: no more
    assert in_the_url.status == 401 and "/api/stream-tickets" in (await in_the_url.json())["reason"]
    response = await client.get(STREAM, params={"ticket": await ticket(client)})
    assert (response.status, response.headers["Content-Type"]) == (200, "text/event-stream")
    response.close()
    bad = await client.get(STREAM, headers={**bearer(TOKEN_A), "Last-Event-ID": "x1"})
    assert bad.status == 400 and "Last-Event-ID" in (await bad.json())["reason"]


async def test_each_therapist_sees_only_their_own_notices_as_they_are_raised(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    stream_a = await client.get(STREAM, headers=bearer(TOKEN_A))
    stream_b = await client.get(STREAM, params={"ticket": await ticket(client, TOKEN_B)})
    a1 = await raise_notice(client.app, "t1", "s-a", "recording_started", 1, "Someone started recording the meeting.")
    b1 = await raise_notice(client.app, "t2", "s-b", "third_party_joined", 1, "Another person joined the meeting.")
    a2 = await raise_notice(client.app, "t1", "s-a", "third_party_joined", 2, "Another person joined the meeting.")
    first, second = await next_event(stream_a), await next_event(stream_a)
    assert [(e["id"], e["event"], e["data"]["session_id"]) for e in (first, second)] == [(str(a1), "notice", "s-a"), (str(a2), "notice", "s-a")]
    assert first["data"]["message"] == "Someone started recording the meeting."
    assert first["data"]["delivery"] == {"dashboard": "delivered"}
    only_b = await next_event(stream_b)
    assert (only_b["id"], only_b["data"]["session_id"]) == (str(b1), "s-b")
    stream_a.close()
    stream_b.close()
    listed = await (await client.get("/api/notices", headers=bearer(TOKEN_A))).json()
    assert [n["delivery"] for n in listed] == [{"dashboard": "delivered"}] * 2


async def test_a_stream_resumes_after_the_last_event_id_without_gaps_or_repeats(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    ids = [await raise_notice(client.app, "t1", "s-a", "third_party_joined", n, f"Another person joined ({n}).") for n in range(3)]
    await raise_notice(client.app, "t2", "s-b", "third_party_joined", 9, "Not yours.")
    stream = await client.get(STREAM, headers={**bearer(TOKEN_A), "Last-Event-ID": str(ids[0])})
    later = await raise_notice(client.app, "t1", "s-a", "recording_started", 3, "Someone started recording the meeting.")
    seen = [await next_event(stream) for _ in range(3)]
    assert [int(e["id"]) for e in seen] == [ids[1], ids[2], later]
    from_query = await client.get(STREAM, params={"ticket": await ticket(client), "last_event_id": str(ids[2])})
    assert int((await next_event(from_query))["id"]) == later
    stream.close()
    from_query.close()


async def test_an_idle_stream_sends_heartbeat_comments(aiohttp_client, settings):
    app = create_app(settings)
    app[keys.STREAM_HEARTBEAT_SECONDS] = 0.05
    client = await aiohttp_client(app)
    stream = await client.get(STREAM, headers=bearer(TOKEN_A))
    lines = [(await asyncio.wait_for(stream.content.readline(), 5)).decode() for _ in range(4)]
    assert ": heartbeat\n" in lines
    stream.close()


async def test_a_channel_that_fails_for_good_is_shown_failed_on_the_stream(aiohttp_client, alert_settings, clock, fake_zoom):
    client = await aiohttp_client(create_app(alert_settings(t1_channels=["dashboard", "zoom_chat"]), clock))
    stream = await client.get(STREAM, headers=bearer(TOKEN_A))
    fake_zoom.fail("message", status=403)
    notice_id = await raise_notice(client.app, "t1", "s-a", "recording_started")
    notice = await next_event(stream)
    assert notice["data"]["delivery"]["dashboard"] == "delivered"
    update = await next_event(stream)
    assert update["event"] == "delivery" and "id" not in update
    assert update["data"] == {"notice_id": notice_id, "channel": "zoom_chat", "state": "failed"}
    stream.close()


async def test_a_resume_id_that_is_not_plain_digits_is_a_400_with_a_reason(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    for value in ("\u00b2", "1\u00b2", "\u0661\u0662", "9" * 5000):  # '²' and Arabic-Indic digits pass str.isdigit()
        for request in ({"headers": {**bearer(TOKEN_A), "Last-Event-ID": value}}, {"params": {"ticket": await ticket(client), "last_event_id": value}}):
            response = await client.get(STREAM, **request)
            assert response.status == 400, value
            assert "Last-Event-ID must be a notice id" in (await response.json())["reason"]


async def test_a_resume_id_beyond_the_id_column_is_a_400_on_either_database(aiohttp_client, make_settings, storage_url):
    client = await aiohttp_client(create_app(make_settings(storage_url)))
    for value in (2**31, 2**63, 2**64):
        response = await client.get(STREAM, headers={**bearer(TOKEN_A), "Last-Event-ID": str(value)})
        assert response.status == 400, value
        assert "2147483647" in (await response.json())["reason"]
    newest = await client.get(STREAM, headers={**bearer(TOKEN_A), "Last-Event-ID": str(2**31 - 1)})
    assert newest.status == 200
    newest.close()


async def test_a_therapist_may_hold_only_so_many_streams_and_a_closed_one_frees_its_place(aiohttp_client, make_settings):
    client = await aiohttp_client(create_app(make_settings(server={"max_streams_per_therapist": 2})))
    first, second = await client.get(STREAM, headers=bearer(TOKEN_A)), await client.get(STREAM, headers=bearer(TOKEN_A))
    assert (first.status, second.status) == (200, 200)
    third = await client.get(STREAM, params={"ticket": await ticket(client)})
    assert third.status == 429
    assert (await third.json())["error"] == "too_many_requests" and "at most 2 notice streams" in (await third.json())["reason"]
    other = await client.get(STREAM, headers=bearer(TOKEN_B))  # another therapist's streams count apart
    assert other.status == 200
    first.close()
    await raise_notice(client.app, "t1", "s-a", "recording_started")  # the closed stream finds out when it writes
    for _ in range(100):
        if client.app[keys.OPEN_STREAMS]["t1"] < 2:
            break
        await asyncio.sleep(0.02)
    again = await client.get(STREAM, headers=bearer(TOKEN_A))
    assert again.status == 200
    for response in (second, other, again):
        response.close()


async def test_notices_raised_together_reach_an_open_stream_marked_and_read_once_for_all(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    stream = await client.get(STREAM, headers=bearer(TOKEN_A))
    first = await raise_notice(client.app, "t1", "s-a", "third_party_joined", 0, "Another person joined (0).")
    assert int((await next_event(stream))["id"]) == first
    with Statements(client.app[keys.STORE].engine) as sent:
        ids = await asyncio.gather(*(raise_notice(client.app, "t1", f"s-{n}", "recording_started", n, f"Recording ({n}).") for n in range(6)))
        seen = [await next_event(stream) for _ in ids]
    assert [int(e["id"]) for e in seen] == sorted(ids) and all(e["data"]["delivery"] == {"dashboard": "delivered"} for e in seen)
    assert sent.count("UPDATE deliveries SET") == 1 and sent.count("SELECT deliveries.notice_id, deliveries.channel,") == 1
    stream.close()


async def test_a_stream_resuming_after_a_gap_longer_than_one_read_replays_all_of_it_in_order(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    ids = await asyncio.gather(*(raise_notice(client.app, "t1", "s-a", "third_party_joined", n) for n in range(stream_module.REPLAY_ROWS + 3)))
    stream = await client.get(STREAM, headers={**bearer(TOKEN_A), "Last-Event-ID": "0"})
    assert [int((await next_event(stream))["id"]) for _ in ids] == sorted(ids)
    stream.close()
