"""The JSON API: bearer tokens, one therapist's sessions only, notes, and clear errors."""
from __future__ import annotations

import pytest

from bot.web import keys
from bot.web.app import create_app
from tests.conftest import TOKEN_A, TOKEN_B
from tests.integrations.zoom.test_webhook import replay


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(aiohttp_client, settings, meeting_deliveries):
    client = await aiohttp_client(create_app(settings))
    await replay(client, meeting_deliveries)
    return client


async def session_id(client) -> str:
    (row,) = await client.app[keys.STORE].sessions("t1")
    return row.id


async def test_healthz_needs_no_token(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/healthz")
    assert response.status == 200 and (await response.json())["status"] == "ok"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN_A}, {"Authorization": "Basic " + TOKEN_A}])
async def test_no_valid_token_is_401(client, headers):
    sid = await session_id(client)
    for path in ("/api/sessions", f"/api/sessions/{sid}", f"/api/sessions/{sid}/summary", "/api/notices"):
        response = await client.get(path, headers=headers)
        assert response.status == 401, path
        assert "bearer" in (await response.json())["reason"]


async def test_therapist_b_cannot_read_or_write_therapist_as_session(client):
    sid = await session_id(client)
    for path in (f"/api/sessions/{sid}", f"/api/sessions/{sid}/summary", f"/api/sessions/{sid}/summary?format=html"):
        assert (await client.get(path, headers=bearer(TOKEN_B))).status == 404
        assert (await client.get(path, headers=bearer(TOKEN_A))).status == 200
    assert await (await client.get("/api/sessions", headers=bearer(TOKEN_B))).json() == []
    assert await (await client.get("/api/notices", headers=bearer(TOKEN_B))).json() == []
    note = await client.post(f"/api/sessions/{sid}/notes", json={"text": "x"}, headers=bearer(TOKEN_B))
    assert note.status == 404


async def test_session_listing_and_detail(client):
    sid = await session_id(client)
    (listed,) = await (await client.get("/api/sessions?platform=zoom&meeting_uuid=mN4x%2BQz8TgW0b1Kc9vYp2A%3D%3D", headers=bearer(TOKEN_A))).json()
    assert listed["session_id"] == sid and listed["meeting"]["id"] == "85746065432"
    assert await (await client.get("/api/sessions?meeting_uuid=other", headers=bearer(TOKEN_A))).json() == []
    detail = await (await client.get(f"/api/sessions/{sid}", headers=bearer(TOKEN_A))).json()
    assert detail["client_code"] == "C-17" and len(detail["participants"]) == 3


async def test_summary_formats(client):
    sid = await session_id(client)
    md = await client.get(f"/api/sessions/{sid}/summary?format=md", headers=bearer(TOKEN_A))
    assert md.content_type == "text/markdown" and "## Participants" in await md.text()
    html = await client.get(f"/api/sessions/{sid}/summary?format=html", headers=bearer(TOKEN_A))
    assert html.content_type == "text/html" and "<h2>Alerts</h2>" in await html.text()
    bad = await client.get(f"/api/sessions/{sid}/summary?format=pdf", headers=bearer(TOKEN_A))
    assert bad.status == 400 and "format" in (await bad.json())["reason"]


async def test_a_note_lands_in_the_summary(client):
    sid = await session_id(client)
    response = await client.post(f"/api/sessions/{sid}/notes", json={"text": " Client lay down. "}, headers=bearer(TOKEN_A))
    assert response.status == 201
    created = await response.json()
    summary = await (await client.get(f"/api/sessions/{sid}/summary", headers=bearer(TOKEN_A))).json()
    assert summary["notes"] == [{"at": created["at"], "text": "Client lay down.", "prompt_id": None}]


@pytest.mark.parametrize("body", [b"not json", b'{"text": ""}', b'{"text": 5}', b'{"text": "ok", "prompt_id": 3}', b"[]"])
async def test_bad_notes_are_400_with_a_reason(client, body):
    sid = await session_id(client)
    response = await client.post(f"/api/sessions/{sid}/notes", data=body, headers=bearer(TOKEN_A))
    assert response.status == 400 and (await response.json())["reason"]


async def test_notices_are_listed_newest_first_and_filter(client):
    notices = await (await client.get("/api/notices", headers=bearer(TOKEN_A))).json()
    alerts = [n for n in notices if n["kind"] not in ("start_reminder", "summary_ready")]
    assert [n["kind"] for n in alerts] == ["third_party_joined", "client_screen_share", "recording_started"]
    assert alerts[0]["at"] == "2026-11-20T10:40:00Z"
    assert notices[0]["kind"] == "summary_ready"  # raised last, when the meeting ended
    only = await (await client.get("/api/notices?kind=recording_started", headers=bearer(TOKEN_A))).json()
    assert [n["kind"] for n in only] == ["recording_started"]


async def test_the_session_listing_is_bounded(client):
    assert len(await (await client.get("/api/sessions?limit=1", headers=bearer(TOKEN_A))).json()) == 1
    for bad in ("0", "201", "x"):
        response = await client.get(f"/api/sessions?limit={bad}", headers=bearer(TOKEN_A))
        assert response.status == 400 and "limit" in (await response.json())["reason"]
