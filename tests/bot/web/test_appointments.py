"""Pre-call checklist: ticked on the planned appointment before the call, carried into the session."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from bot.storage.store import session_id_for
from bot.web import keys
from bot.web.app import create_app
from integrations.zoom.scripted.webhooks import ScriptedMeeting
from tests.conftest import THERAPIST_A_HOST, TOKEN_A, TOKEN_B, signed_headers

A = {"Authorization": f"Bearer {TOKEN_A}"}
B = {"Authorization": f"Bearer {TOKEN_B}"}
START = (datetime.now(timezone.utc) + timedelta(minutes=30)).replace(second=0, microsecond=0)


async def post(client, body: dict) -> None:
    raw = json.dumps(body).encode()
    response = await client.post("/webhooks/zoom", data=raw, headers=signed_headers(raw))
    assert response.status == 200, await response.text()
    await client.app[keys.EVALUATION].drain()


async def plan(client) -> None:
    created = {
        "id": 85746065432, "uuid": "plan==", "host_id": THERAPIST_A_HOST, "topic": "Weekly", "type": 2,
        "start_time": START.strftime("%Y-%m-%dT%H:%M:%SZ"), "duration": 50,
    }
    await post(client, {"event": "meeting.created", "event_ts": 1, "payload": {"account_id": "acc", "object": created}})


async def test_points_ticked_before_the_call_are_confirmed_in_the_session(aiohttp_client, make_settings, storage_url):
    client = await aiohttp_client(create_app(make_settings(storage_url)))
    await plan(client)
    (appointment,) = await (await client.get("/api/appointments", headers=A)).json()
    assert appointment["client_code"] == "C-17" and appointment["start"] == START.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "no_family_photos" in [i["id"] for i in appointment["checklist"]["items"]]

    url = f"/api/appointments/{appointment['appointment_id']}/checklist"
    ticked = await (await client.post(f"{url}/no_family_photos", headers=A)).json()
    assert (await (await client.get(url, headers=A)).json())["confirmed"] == 1

    meeting = ScriptedMeeting(START + timedelta(minutes=2), "85746065432", "occ+1==", THERAPIST_A_HOST)
    meeting.started(0)
    await post(client, meeting.steps[0][1])
    session = session_id_for("zoom", meeting.uuid)
    checklist = await (await client.get(f"/api/sessions/{session}/checklist", headers=A)).json()
    item = next(i for i in checklist["items"] if i["id"] == "no_family_photos")
    assert item["confirmed_at"] == ticked["confirmed_at"] and checklist["confirmed"] == 1
    (reminder,) = await (await client.get("/api/notices", params={"kind": "start_reminder"}, headers=A)).json()
    assert f"{checklist['total'] - 1} of {checklist['total']}" in reminder["message"]


async def test_a_session_far_from_the_planned_time_is_another_occurrence(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    await plan(client)
    (appointment,) = await (await client.get("/api/appointments", headers=A)).json()
    await client.post(f"/api/appointments/{appointment['appointment_id']}/checklist/own_dress", headers=A)
    meeting = ScriptedMeeting(START + timedelta(hours=6), "85746065432", "occ+2==", THERAPIST_A_HOST)
    meeting.started(0)
    await post(client, meeting.steps[0][1])
    checklist = await (await client.get(f"/api/sessions/{session_id_for('zoom', meeting.uuid)}/checklist", headers=A)).json()
    assert checklist["confirmed"] == 0


async def test_another_therapist_cannot_see_or_tick_the_appointment(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    await plan(client)
    (appointment,) = await (await client.get("/api/appointments", headers=A)).json()
    url = f"/api/appointments/{appointment['appointment_id']}/checklist"
    assert await (await client.get("/api/appointments", headers=B)).json() == []
    assert (await client.get(url, headers=B)).status == 404
    assert (await client.post(f"{url}/own_dress", headers=B)).status == 404
    assert (await client.get(url)).status == 401
    assert (await client.post(f"{url}/not_a_point", headers=A)).status == 404
