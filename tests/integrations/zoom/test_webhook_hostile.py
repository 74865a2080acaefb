"""Signed webhooks that no real meeting sends: refused with a reason or stored cleaned, and never a broken session."""
from __future__ import annotations

import copy
import json
import time

import pytest
from sqlalchemy import func, select

from bot.storage import schema
from bot.web import keys
from bot.web.app import create_app
from tests.conftest import SECRET, TOKEN_A, signed_headers
from tests.fakes.raw_http import raw_request
from tests.integrations.zoom.test_webhook import post, replay

A = {"Authorization": f"Bearer {TOKEN_A}"}


async def stored_rows(client) -> int:
    async with client.app[keys.STORE].engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(schema.events))).scalar_one()


async def every_session_reads(client) -> None:
    listed = await client.get("/api/sessions", headers=A)
    assert listed.status == 200, await listed.text()
    for session in await listed.json():
        for path in ("", "/summary", "/checklist"):
            response = await client.get(f"/api/sessions/{session['session_id']}{path}", headers=A)
            assert response.status == 200, (path, await response.text())


@pytest.fixture
async def client(aiohttp_client, make_settings, storage_url, meeting_deliveries):
    client = await aiohttp_client(create_app(make_settings(storage_url)))
    await replay(client, meeting_deliveries[:4])
    return client


def joined(deliveries, **participant) -> dict:
    body = copy.deepcopy(next(d for d in deliveries if d["event"] == "meeting.participant_joined"))
    body["payload"]["object"]["participant"].update(participant)
    return body


@pytest.mark.parametrize(
    "change",
    [
        {"event_ts": -62135596800000, "event": "meeting.started"},
        {"join_time": "0001-01-01T00:00:00Z"},
        {"join_time": "9999-12-31T23:59:59Z"},
        {"join_time": "1999-12-31T23:59:59Z"},
    ],
    ids=["started-year-1", "joined-year-1", "joined-year-9999", "joined-1999"],
)
async def test_an_unbelievable_time_is_refused_and_nothing_is_stored(client, meeting_deliveries, change):
    before = await stored_rows(client)
    if change.get("event") == "meeting.started":
        body = copy.deepcopy(meeting_deliveries[0])
        body["event_ts"] = change["event_ts"]
        body["payload"]["object"]["uuid"] = "another+occurrence=="
    else:
        body = joined(meeting_deliveries, **change)
    response = await post(client, body)
    assert response.status == 400 and "outside 2000 to two years from now" in (await response.json())["reason"]
    assert await stored_rows(client) == before
    await every_session_reads(client)


async def test_a_planned_start_that_cannot_be_read_is_dropped_and_the_start_kept(client, meeting_deliveries):
    body = copy.deepcopy(meeting_deliveries[0])
    body["payload"]["object"].update(uuid="planned+start+bad==", start_time="9999-12-31T23:59:59Z")
    response = await post(client, body)
    assert response.status == 200 and (await response.json())["status"] == "stored"
    await client.app[keys.EVALUATION].drain()
    await every_session_reads(client)


@pytest.mark.parametrize("text", ["Sam \ud800Client", "Sam\x00 Client", "Sam \udfff\ud800 Client"])
async def test_a_lone_surrogate_or_nul_in_a_name_is_stored_cleaned(client, meeting_deliveries, text):
    raw = json.dumps(joined(meeting_deliveries, user_name=text, participant_uuid="other-person")).encode()  # \ud800 escapes
    response = await client.post("/webhooks/zoom", data=raw, headers=signed_headers(raw))
    assert response.status == 200, await response.text()
    await client.app[keys.EVALUATION].drain()
    await every_session_reads(client)


@pytest.mark.parametrize("field,length", [("id", 65), ("uuid", 256), ("host_id", 256)])
async def test_an_id_longer_than_the_store_keeps_is_refused(client, meeting_deliveries, field, length):
    body = copy.deepcopy(meeting_deliveries[0])
    body["payload"]["object"][field] = "9" * length
    before = await stored_rows(client)
    response = await post(client, body)
    assert response.status == 400 and field in (await response.json())["reason"]
    assert await stored_rows(client) == before


async def test_json_nested_deeper_than_the_parser_goes_is_400(client):
    raw = b'{"event": "meeting.started", "payload": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = await client.post("/webhooks/zoom", data=raw, headers=signed_headers(raw))
    assert response.status == 400 and (await response.json())["reason"] == "the body is not JSON"


@pytest.mark.parametrize("start", ["next tuesday", "2026-13-45T99:00:00Z", "0001-01-01T00:00:00Z"])
async def test_a_deleted_occurrence_whose_time_cannot_be_read_is_400(client, start):
    body = {
        "event": "meeting.deleted", "event_ts": int(time.time() * 1000),
        "payload": {"object": {"id": "85746065432", "uuid": "x==", "type": 8, "occurrences": [{"occurrence_id": "1", "start_time": start}]}},
    }
    response = await post(client, body)
    assert response.status == 400 and "occurrence" in (await response.json())["reason"]


async def test_a_signature_header_of_bytes_that_are_not_utf8_is_401(client):
    raw = json.dumps({"event": "meeting.started", "payload": {}}).encode()
    headers = [(b"x-zm-request-timestamp", str(int(time.time())).encode()), (b"x-zm-signature", b"v0=\xff\xfe\xc3("), (b"Content-Type", b"application/json")]
    status, body = await raw_request(client.port, "POST", b"/webhooks/zoom", headers, raw)
    assert status == 401 and json.loads(body)["reason"] == "the Zoom signature does not verify"


@pytest.mark.parametrize("stamp", ["\u00b2\u00b3", "\u0661\u0662", "9" * 40])
async def test_a_timestamp_of_other_digits_is_401(client, stamp):
    raw = b"{}"
    headers = {"x-zm-request-timestamp": stamp, "x-zm-signature": "v0=" + "0" * 64}
    response = await client.post("/webhooks/zoom", data=raw, headers=headers)
    assert response.status == 401


async def test_the_401_does_not_say_which_check_failed(client):
    raw = b'{"event": "meeting.started", "payload": {}}'
    stale = await client.post("/webhooks/zoom", data=raw, headers=signed_headers(raw, timestamp=int(time.time()) - 3600))
    wrong = await client.post("/webhooks/zoom", data=raw, headers=signed_headers(raw, secret=SECRET + "x"))
    assert stale.status == wrong.status == 401
    assert await stale.json() == await wrong.json()


@pytest.mark.parametrize("event", ["\ud800", "meeting.started\nFORGED log line", "x" * 65, "Meeting.Started"])
async def test_an_event_name_no_zoom_event_has_is_not_written_to_the_log(client, caplog, event):
    caplog.set_level("DEBUG", logger="integrations.zoom.webhook")
    response = await post(client, {"event": event, "event_ts": int(time.time() * 1000), "payload": {}})
    assert response.status in (200, 400), await response.text()
    written = [record.getMessage() for record in caplog.records if record.name == "integrations.zoom.webhook"]
    assert written and all(event not in line and "(not a Zoom event name)" in line for line in written), written
