"""The Zoom webhook route on the real server: verification, handshake, storage and ordering."""
from __future__ import annotations

import json
import random
import time

import pytest

from bot.core.events import MeetingRef
from bot.web import keys
from bot.web.app import create_app
from tests.conftest import SECRET, TOKEN_A, signed_headers


def dump(body: object) -> bytes:
    return json.dumps(body).encode()


async def post(client, body: object, **kw):
    raw = body if isinstance(body, bytes) else dump(body)
    return await client.post("/webhooks/zoom", data=raw, headers=signed_headers(raw, **kw))


async def replay(client, deliveries) -> None:
    for body in deliveries:
        response = await post(client, body)
        assert response.status == 200, await response.text()
    await client.app[keys.EVALUATION].drain()


async def summary(client) -> dict:
    sessions = await client.get(
        "/api/sessions", params={"platform": "zoom", "meeting_uuid": "mN4x+Qz8TgW0b1Kc9vYp2A=="},
        headers={"Authorization": f"Bearer {TOKEN_A}"},
    )
    (listed,) = await sessions.json()
    response = await client.get(f"/api/sessions/{listed['session_id']}/summary", headers={"Authorization": f"Bearer {TOKEN_A}"})
    assert response.status == 200
    return await response.json()


async def test_url_validation_is_answered_with_the_hmac_of_the_token(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    body = {"event": "endpoint.url_validation", "event_ts": 1764669600123, "payload": {"plainToken": "Zp3kT9vQ"}}
    response = await post(client, body)
    assert response.status == 200
    # openssl: printf '%s' 'Zp3kT9vQ' | openssl dgst -sha256 -hmac 'whsec-test-7Hq2-mV4cR8pL1xN6bZ3k'
    assert await response.json() == {
        "plainToken": "Zp3kT9vQ",
        "encryptedToken": "841c0218a0bab53993e9778994e4dedd3db958a812825bb2a347c872405631cd",
    }


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-zm-request-timestamp": "NOW", "x-zm-signature": "v0=" + "0" * 64},
        {"x-zm-request-timestamp": "STALE", "x-zm-signature": "SIGNED"},
        {"x-zm-request-timestamp": "NOW", "x-zm-signature": "WRONG_SECRET"},
    ],
    ids=["unsigned", "wrong", "stale", "other-secret"],
)
async def test_unverified_webhooks_get_401_and_store_nothing(aiohttp_client, settings, meeting_deliveries, headers):
    client = await aiohttp_client(create_app(settings))
    raw = dump(meeting_deliveries[0])
    now = int(time.time())
    if headers.get("x-zm-signature") == "SIGNED":
        headers = signed_headers(raw, timestamp=now - 301)
    elif headers.get("x-zm-signature") == "WRONG_SECRET":
        headers = signed_headers(raw, secret=SECRET + "x")
    elif headers:
        headers = {**headers, "x-zm-request-timestamp": str(now)}
    response = await client.post("/webhooks/zoom", data=raw, headers=headers)
    assert response.status == 401
    assert "reason" in await response.json()
    assert await client.app[keys.STORE].sessions("t1") == []


async def test_a_body_over_256_kib_gets_413(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    raw = b'{"event":"meeting.started","payload":{"pad":"' + b"x" * (256 * 1024) + b'"}}'
    response = await client.post("/webhooks/zoom", data=raw, headers=signed_headers(raw))
    assert response.status == 413


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"payload": {}}', "event is missing"),
        (b'{"event": "meeting.started", "payload": {"object": {"id": "1"}}}', "uuid is missing"),
        (b'{"event": "meeting.participant_joined", "event_ts": 1, "payload": {"object": {"uuid": "u"}}}', "participant is missing"),
        (b'{"event": "meeting.started", "event_ts": "soon", "payload": {"object": {"uuid": "u"}}}', "event_ts is not a number"),
        (b'{"event": "endpoint.url_validation", "payload": {}}', "plainToken is missing"),
    ],
)
async def test_verified_bodies_zoom_would_not_send_get_400_with_a_reason(aiohttp_client, settings, raw, reason):
    client = await aiohttp_client(create_app(settings))
    response = await post(client, raw)
    assert response.status == 400
    assert reason in (await response.json())["reason"]


async def test_an_event_the_service_does_not_use_gets_200(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    response = await post(client, {"event": "user.presence_status_updated", "event_ts": 1, "payload": {"object": {}}})
    assert response.status == 200
    assert (await response.json())["status"] == "ignored"


async def test_a_meeting_of_an_unknown_host_is_acknowledged_but_not_kept(aiohttp_client, settings, meeting_deliveries):
    client = await aiohttp_client(create_app(settings))
    body = json.loads(json.dumps(meeting_deliveries[0]))
    body["payload"]["object"]["host_id"] = "someone-else"
    response = await post(client, body)
    assert response.status == 200
    meeting = MeetingRef("zoom", body["payload"]["object"]["uuid"])
    assert await client.app[keys.STORE].session_events(meeting) == []


async def test_a_whole_meeting_survives_a_restart_with_the_identical_summary(aiohttp_client, make_settings, storage_url, meeting_deliveries):
    settings = make_settings(storage_url)
    first = await aiohttp_client(create_app(settings))
    await replay(first, meeting_deliveries)
    before = await summary(first)
    await first.close()

    second = await aiohttp_client(create_app(settings))
    assert await summary(second) == before

    assert before["status"] == "ended"
    assert before["client_code"] == "C-17"
    assert before["started_at"] == "2026-11-20T10:00:00Z"
    assert before["ended_at"] == "2026-11-20T10:50:12Z"
    assert before["duration_seconds"] == 3012
    people = {p["name"]: p for p in before["participants"]}  # by role: the names the meeting showed are not kept
    assert people["Therapist"]["role"] == "therapist"
    assert people["C-17"]["role"] == "client"
    assert people["C-17"]["intervals"] == [
        {"joined_at": "2026-11-20T10:01:32Z", "left_at": "2026-11-20T10:20:00Z"},
        {"joined_at": "2026-11-20T10:20:40Z", "left_at": "2026-11-20T10:50:00Z"},
    ]
    assert people["Other person 1"]["role"] == "other"
    assert [(a["kind"], a["at"]) for a in before["alerts"]] == [
        ("recording_started", "2026-11-20T10:25:00Z"),
        ("client_screen_share", "2026-11-20T10:30:00Z"),
        ("third_party_joined", "2026-11-20T10:40:00Z"),
    ]
    assert "Alex" not in json.dumps(before["alerts"])


async def test_duplicate_and_out_of_order_deliveries_give_the_same_summary(aiohttp_client, make_settings, sqlite_url, tmp_path, meeting_deliveries):
    clean = await aiohttp_client(create_app(make_settings(sqlite_url)))
    await replay(clean, meeting_deliveries)
    expected = await summary(clean)
    # The same notices, each once; the order they were raised in follows the judging passes' timing.
    clean_notices = sorted((n.kind, n.key, n.at) for n in await clean.app[keys.STORE].notices("t1"))

    duplicated = await aiohttp_client(create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'dup.db'}")))
    await replay(duplicated, [body for body in meeting_deliveries for _ in range(2)])
    assert await summary(duplicated) == expected
    assert sorted((n.kind, n.key, n.at) for n in await duplicated.app[keys.STORE].notices("t1")) == clean_notices

    messy_deliveries = meeting_deliveries + random.Random(7).sample(meeting_deliveries, 6)
    random.Random(11).shuffle(messy_deliveries)
    messy = await aiohttp_client(create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'messy.db'}")))
    await replay(messy, messy_deliveries)
    assert await summary(messy) == expected


async def test_an_acknowledged_event_is_already_stored(aiohttp_client, settings, meeting_deliveries):
    client = await aiohttp_client(create_app(settings))
    response = await post(client, meeting_deliveries[0])
    assert response.status == 200
    sessions = await client.app[keys.STORE].sessions("t1")
    assert len(await client.app[keys.STORE].session_events(sessions[0].meeting)) == 1


async def test_events_stored_but_never_judged_are_judged_when_the_service_starts(aiohttp_client, settings, meeting_deliveries):
    from bot.core.clients import therapist_for_meeting
    from integrations.zoom.event_keys import event_key
    from integrations.zoom.events import parse_event

    # As if the service stored these and crashed before judging them.
    first = await aiohttp_client(create_app(settings))
    store = first.app[keys.STORE]
    for body in meeting_deliveries:
        parsed = parse_event(body)
        if parsed is not None:
            owner = therapist_for_meeting(settings, parsed.meeting)
            await store.record_events(owner.id if owner else None, parsed.meeting, [(event_key(parsed.name, parsed.events[0]), parsed.events[0])], first.app[keys.CLOCK]())
    assert await store.notices("t1") == []
    await first.close()

    second = await aiohttp_client(create_app(settings))
    await second.app[keys.EVALUATION].drain()
    kinds = {n.kind for n in await second.app[keys.STORE].notices("t1")}
    assert {"recording_started", "client_screen_share", "third_party_joined", "summary_ready"} <= kinds


async def table_rows(store) -> dict[str, list[tuple]]:
    """Return every row of every table, to see that a webhook changed nothing."""
    from sqlalchemy import select

    from bot.storage import schema

    async with store.engine.connect() as conn:
        return {t.name: sorted(map(tuple, (await conn.execute(select(t))).all())) for t in schema.metadata.sorted_tables}


def without_host(body: dict) -> dict:
    body = json.loads(json.dumps(body))
    del body["payload"]["object"]["host_id"]
    body["payload"]["object"]["uuid"] = "nobody-knows-this-occurrence=="
    return body


@pytest.mark.parametrize("step", [0, 1, 7], ids=["meeting.started", "participant_joined", "recording.started"])
async def test_a_signed_event_without_a_host_is_ignored_and_stores_nothing(aiohttp_client, make_settings, storage_url, meeting_deliveries, step):
    client = await aiohttp_client(create_app(make_settings(storage_url)))
    await replay(client, meeting_deliveries[:2])  # another meeting is being kept meanwhile
    before = await table_rows(client.app[keys.STORE])
    response = await post(client, without_host(meeting_deliveries[step]))
    assert response.status == 200
    assert (await response.json())["status"] == "ignored"
    await client.app[keys.EVALUATION].drain()
    assert await table_rows(client.app[keys.STORE]) == before


async def test_a_stream_start_that_comes_before_its_meeting_is_stored_for_it(aiohttp_client, settings, meeting_deliveries):
    client = await aiohttp_client(create_app(settings))
    uuid = meeting_deliveries[0]["payload"]["object"]["uuid"]
    rtms = {
        "event": "meeting.rtms_started", "event_ts": 1795168801000,
        "payload": {"meeting_uuid": uuid, "operator_id": "op", "rtms_stream_id": "st-1", "server_urls": "wss://127.0.0.1:9/x"},
    }
    response = await post(client, rtms)  # no host in an RTMS payload, and no session yet: kept, and said so
    assert (await response.json())["status"] == "stored"
    assert response.headers["Content-Type"] == "application/json; charset=utf-8" and response.content_length == len(b'{"status": "stored"}')
    await replay(client, meeting_deliveries)
    store = client.app[keys.STORE]
    (session,) = await store.sessions("t1")
    assert "stream_started" in [e.kind for e in await store.session_events(session.meeting)]


def resent(body: dict) -> dict:
    """Return `body` as Zoom may send the same event again: sent later, the envelope reworded."""
    body = json.loads(json.dumps(body))
    body["event_ts"] += 61_234
    body["payload"]["object"]["topic"] = body["payload"]["object"].get("topic", "") + " (renamed)"
    if isinstance(body["payload"]["object"].get("participant"), dict):
        body["payload"]["object"]["participant"]["user_name"] += " (phone)"
    return body


async def test_the_same_event_sent_again_with_another_event_ts_changes_nothing(aiohttp_client, make_settings, storage_url, meeting_deliveries):
    client = await aiohttp_client(create_app(make_settings(storage_url)))
    await replay(client, meeting_deliveries)
    before, expected = await table_rows(client.app[keys.STORE]), await summary(client)
    for body in meeting_deliveries:
        response = await post(client, resent(body))
        assert response.status == 200
    await client.app[keys.EVALUATION].drain()
    assert await table_rows(client.app[keys.STORE]) == before
    assert await summary(client) == expected


def rejoining_within_the_second(deliveries: list[dict], same_id: bool) -> list[dict]:
    """Return the meeting with the client's reconnect at the very second they dropped out (10:20:00)."""
    bodies = json.loads(json.dumps(deliveries))
    rejoin = bodies[6]["payload"]["object"]["participant"]
    assert rejoin["user_name"] == "Sam Client" and rejoin["join_time"] == "2026-11-20T10:20:40Z"
    rejoin["join_time"] = "2026-11-20T10:20:00Z"
    if same_id:  # some clients keep their per-join id when they come back
        bodies = json.loads(json.dumps(bodies).replace('"16780288"', '"16779264"'))
    return bodies


@pytest.mark.parametrize("same_id", [False, True], ids=["new-per-join-id", "same-per-join-id"])
async def test_a_client_back_within_the_second_is_present_whatever_the_arrival_order(aiohttp_client, make_settings, tmp_path, meeting_deliveries, same_id):
    bodies = rejoining_within_the_second(meeting_deliveries, same_id)
    summaries = []
    for seed in range(4):
        order = list(bodies)
        if seed:
            random.Random(seed).shuffle(order)
        client = await aiohttp_client(create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / f'{seed}.db'}")))
        await replay(client, order)
        summaries.append(await summary(client))
    assert all(s == summaries[0] for s in summaries[1:])
    people = {p["name"]: p for p in summaries[0]["participants"]}
    assert people["C-17"]["intervals"] == [{"joined_at": "2026-11-20T10:01:32Z", "left_at": "2026-11-20T10:50:00Z"}]
    sam = [t["event"] for t in summaries[0]["timeline"] if t["at"] == "2026-11-20T10:20:00Z"]
    assert sam == ["participant_left", "participant_joined"]


BY_EMAIL = [{"code": "C-17", "therapist": "t1", "mode": "online", "flags": ["minor_attracted"], "emails": ["sam.client@example.net"]}]


async def notices_of(client) -> list[tuple[str, str, str, str]]:
    return sorted((n.kind, n.key, n.at, n.message) for n in await client.app[keys.STORE].notices("t1"))


@pytest.mark.parametrize("clients", [None, BY_EMAIL], ids=["client-known-by-meeting-id", "client-known-by-email"])
async def test_the_same_webhooks_in_any_order_raise_the_same_notices(aiohttp_client, make_settings, tmp_path, meeting_deliveries, clients):
    sections = {"clients": clients} if clients else {}
    seen = []
    for seed in range(8):
        order = list(meeting_deliveries)
        if seed:
            random.Random(seed).shuffle(order)
        client = await aiohttp_client(create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / f'{seed}.db'}", **sections)))
        await replay(client, order)
        seen.append((await notices_of(client), await summary(client)))
    notices, expected = seen[0]
    for seed, (raised, summarised) in enumerate(seen):
        assert raised == notices, seed
        assert summarised == expected, seed
    assert [n[0] for n in notices] == [
        "client_screen_share", "recording_started", "start_reminder", "summary_ready", "third_party_joined",
    ]
    worded = {kind: message for kind, _, _, message in notices}
    assert "C-17" in worded["start_reminder"] and "C-17" in worded["summary_ready"]
