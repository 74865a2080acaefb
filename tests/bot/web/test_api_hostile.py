"""The JSON API under input no page sends: a 4xx with a reason, never a 500, and stored rows never break a read."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, insert

from bot.storage import schema
from bot.web import keys
from bot.web.app import create_app
from tests.conftest import TOKEN_A
from tests.fakes.raw_http import raw_request
from tests.integrations.zoom.test_webhook import replay

A = {"Authorization": f"Bearer {TOKEN_A}"}


@pytest.fixture
async def client(aiohttp_client, make_settings, storage_url, meeting_deliveries):
    client = await aiohttp_client(create_app(make_settings(storage_url)))
    await replay(client, meeting_deliveries)
    return client


async def session_id(client) -> str:
    (listed,) = await (await client.get("/api/sessions", headers=A)).json()
    return listed["session_id"]


async def test_an_authorization_header_of_bytes_that_are_not_utf8_is_401_everywhere(client):
    sid = await session_id(client)
    paths = ["/api/sessions", f"/api/sessions/{sid}", f"/api/sessions/{sid}/summary", "/api/notices", "/api/notices/stream", "/api/appointments"]
    for path in paths:
        for value in (b"Bearer \xff\xfe\xfd", b"Bearer " + TOKEN_A.encode() + b"\xc3(", b"\xe2\x82"):
            status, body = await raw_request(client.port, "GET", path.encode(), [(b"Authorization", value)])
            assert status == 401, (path, value, body)


@pytest.mark.parametrize("limit", ["\u00b2", "\u0661", "1" * 30, "-1", "0", "201"])
async def test_a_limit_that_is_not_a_small_whole_number_is_400(client, limit):
    response = await client.get("/api/sessions", params={"limit": limit}, headers=A)
    assert response.status == 400 and "limit" in (await response.json())["reason"]


@pytest.mark.parametrize(
    "body",
    [
        {"text": "lone \ud800 surrogate"},
        {"text": "a NUL \x00 in it"},
        {"text": "fine", "prompt_id": "p" * 81},
        {"text": "fine", "prompt_id": "\udfff"},
        {"text": "fine", "prompt_id": "nul\x00"},
    ],
    ids=["surrogate", "nul", "long-prompt", "surrogate-prompt", "nul-prompt"],
)
async def test_a_note_the_store_cannot_hold_is_400_and_nothing_is_stored(client, body):
    sid = await session_id(client)
    raw = json.dumps(body).encode()  # json.dumps writes lone surrogates as \ud800 escapes, as a client could
    response = await client.post(f"/api/sessions/{sid}/notes", data=raw, headers={**A, "Content-Type": "application/json"})
    assert response.status == 400, await response.text()
    assert (await (await client.get(f"/api/sessions/{sid}/summary", headers=A)).json())["notes"] == []


async def test_a_note_nested_deeper_than_the_parser_goes_is_400(client):
    sid = await session_id(client)
    raw = b"[" * 100_000 + b"]" * 100_000
    response = await client.post(f"/api/sessions/{sid}/notes", data=raw, headers={**A, "Content-Type": "application/json"})
    assert response.status == 400


@pytest.mark.parametrize(
    "path,answers",
    [
        (b"/api/sessions/s%00x", {400}),
        (b"/api/sessions?platform=zo%00om", {400}),
        (b"/api/notices?kind=%ED%A0%80", {200, 400}),  # the URL parser may already have replaced the bytes
        (b"/api/sessions/%ff%fe", {400, 404}),
    ],
)
async def test_a_url_with_nul_or_bytes_that_are_not_utf8_is_answered_without_a_500(client, path, answers):
    status, body = await raw_request(client.port, "GET", path, [(b"Authorization", f"Bearer {TOKEN_A}".encode())])
    assert status in answers, body


async def test_a_stored_row_that_cannot_be_read_leaves_the_session_and_the_list_readable(client, meeting_deliveries):
    sid = await session_id(client)
    (row,) = await client.app[keys.STORE].sessions("t1")
    poison = [
        {"kind": "participant_joined", "at": "1-01-01T00:00:00.000000Z", "participant": {"user_id": "1"}},  # as old code wrote year 1
        {"kind": "participant_joined", "at": "9999-12-31T23:59:59.000000Z", "participant": {"user_id": "2"}},
        {"kind": "no_such_kind", "at": "2026-11-20T10:10:00.000000Z"},
        {"kind": "participant_joined", "at": "2026-11-20T10:10:00.000000Z", "participant": {"no_such_field": 1}},
    ]
    async with client.app[keys.STORE].engine.begin() as conn:
        for n, record in enumerate(poison):
            await conn.execute(insert(schema.events).values(
                platform=row.platform, occurrence_id=row.occurrence_id, key=f"poison:{n}", at=record["at"], kind=record["kind"],
                data=json.dumps(record), received_at="2026-11-20T10:10:00.000000Z",
            ))
    for path in ("/api/sessions", f"/api/sessions/{sid}", f"/api/sessions/{sid}/summary", f"/api/sessions/{sid}/checklist"):
        response = await client.get(path, headers=A)
        assert response.status == 200, (path, await response.text())
    summary = await (await client.get(f"/api/sessions/{sid}/summary", headers=A)).json()
    assert summary["ended_at"] is not None and len(summary["participants"]) == 3


async def test_a_session_that_cannot_be_judged_is_shown_as_such_and_the_others_still_list(client, monkeypatch):
    sid = await session_id(client)
    tracker = client.app[keys.TRACKER]
    real_view = tracker.view

    async def view(row, now=None):
        if row.id == sid:
            raise OverflowError("date value out of range")
        return await real_view(row, now)

    monkeypatch.setattr(tracker, "view", view)
    async with tracker.store.engine.begin() as conn:  # as stored before the list kept rows: the listing judges it
        await conn.execute(delete(schema.session_listing))
    listed = await client.get("/api/sessions", headers=A)
    assert listed.status == 200
    assert [(s["session_id"], s["status"]) for s in await listed.json()] == [(sid, "unreadable")]
    detail = await client.get(f"/api/sessions/{sid}", headers=A)
    assert detail.status == 200 and (await detail.json())["status"] == "unreadable"
    summary = await client.get(f"/api/sessions/{sid}/summary", headers=A)
    assert summary.status == 409 and "cannot be judged" in (await summary.json())["reason"]


async def test_a_refused_statement_logs_no_value(client, storage_url, caplog):
    store = client.app[keys.STORE]
    sid = await session_id(client)
    now = client.app[keys.CLOCK]()
    before = await store.notices("t1", sid)
    # A note is sealed before it reaches the database (ASCII, always storable): a notice's text is not.
    with pytest.raises(Exception) as raised:
        await store.raise_notice("t1", sid, "framing_changed", f"{sid}:refused", now, "private words \ud800 of a notice", now)
    assert "private words" not in str(raised.value) and "private words" not in repr(raised.value.__context__)
    assert "private words" not in str(getattr(raised.value, "orig", ""))
    assert await store.notices("t1", sid) == before
