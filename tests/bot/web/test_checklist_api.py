"""The checklist API: the session's tailored points, ticking them, and the summary that shows them."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from bot.storage.store import session_id_for
from bot.web import keys
from bot.web.app import create_app
from integrations.zoom.scripted.webhooks import ScriptedMeeting
from tests.conftest import THERAPIST_A_HOST, TOKEN_A, TOKEN_B, signed_headers

A = {"Authorization": f"Bearer {TOKEN_A}"}


async def started_session(client) -> str:
    meeting = ScriptedMeeting(datetime.now(timezone.utc).replace(microsecond=0), "85746065432", "ck+Uuid==", THERAPIST_A_HOST)
    meeting.started(0)
    raw = json.dumps(meeting.steps[0][1]).encode()
    assert (await client.post("/webhooks/zoom", data=raw, headers=signed_headers(raw))).status == 200
    await client.app[keys.EVALUATION].drain()
    return session_id_for("zoom", meeting.uuid)


async def test_the_checklist_is_tailored_ticked_once_and_in_the_summary(aiohttp_client, make_settings, storage_url):
    client = await aiohttp_client(create_app(make_settings(storage_url)))
    session = await started_session(client)
    checklist = await (await client.get(f"/api/sessions/{session}/checklist", headers=A)).json()
    ids = [item["id"] for item in checklist["items"]]
    assert "no_family_photos" in ids and "no_pets" not in ids  # C-17 is minor_attracted, online
    assert "companion_told_zoom" in ids and "companion_told_teams" not in ids  # a Zoom session: what Zoom shows the client
    assert checklist["confirmed"] == 0 and checklist["total"] == len(ids)

    first = await client.post(f"/api/sessions/{session}/checklist/no_family_photos", headers=A)
    assert first.status == 200
    ticked = await first.json()
    again = await (await client.post(f"/api/sessions/{session}/checklist/no_family_photos", headers=A)).json()
    assert again == ticked and ticked["confirmed_at"].endswith("Z")

    summary = await (await client.get(f"/api/sessions/{session}/summary", headers=A)).json()
    assert summary["checklist"]["confirmed"] == 1
    item = next(i for i in summary["checklist"]["items"] if i["id"] == "no_family_photos")
    assert item["confirmed_at"] == ticked["confirmed_at"]
    (reminder,) = await (await client.get("/api/notices", params={"kind": "start_reminder"}, headers=A)).json()
    assert reminder["session_id"] == session and "C-17" in reminder["message"]


async def test_checklist_requests_are_scoped_and_checked(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    session = await started_session(client)
    other = {"Authorization": f"Bearer {TOKEN_B}"}
    assert (await client.get(f"/api/sessions/{session}/checklist", headers=other)).status == 404
    assert (await client.post(f"/api/sessions/{session}/checklist/own_dress", headers=other)).status == 404
    assert (await client.get(f"/api/sessions/{session}/checklist")).status == 401
    unknown = await client.post(f"/api/sessions/{session}/checklist/no_pets", headers=A)  # not on this client's list
    assert unknown.status == 404 and "reason" in await unknown.json()
