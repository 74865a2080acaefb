"""The clients API: profiles kept in the database beside the settings file's, scoped, checked, and which client an appointment is."""
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
MEETING_ID = "81112223334"  # no client's in the settings file


async def post(client, body: dict) -> None:
    raw = json.dumps(body).encode()
    response = await client.post("/webhooks/zoom", data=raw, headers=signed_headers(raw))
    assert response.status == 200, await response.text()
    await client.app[keys.EVALUATION].drain()


async def session_on(client, meeting_id: str, uuid: str, start: datetime) -> str:
    meeting = ScriptedMeeting(start, meeting_id, uuid, THERAPIST_A_HOST)
    meeting.started(0)
    await post(client, meeting.steps[0][1])
    return session_id_for("zoom", meeting.uuid)


async def planned_appointment(client) -> dict:
    created = {
        "id": int(MEETING_ID), "uuid": "plan==", "host_id": THERAPIST_A_HOST, "topic": "Weekly", "type": 2,
        "start_time": START.strftime("%Y-%m-%dT%H:%M:%SZ"), "duration": 50,
    }
    await post(client, {"event": "meeting.created", "event_ts": 1, "payload": {"account_id": "acc", "object": created}})
    (appointment,) = await (await client.get("/api/appointments", headers=A)).json()
    return appointment


async def test_a_therapist_keeps_clients_beside_the_settings_files_and_never_sees_their_emails_back(aiohttp_client, make_settings, storage_url):
    client = await aiohttp_client(create_app(make_settings(storage_url)))
    body = {"code": "c-21", "mode": "online", "flags": ["animals"], "meeting_ids": ["999"], "emails": ["sam@example.net"], "display_names": ["Sam"]}
    created = await client.post("/api/clients", json=body, headers=A)
    assert created.status == 201
    kept = {"code": "C-21", "mode": "online", "flags": ["animals"], "meeting_ids": ["999"], "email_count": 1, "display_name_count": 1, "source": "database"}
    assert await created.json() == kept
    listed = await (await client.get("/api/clients", headers=A)).json()
    assert [(c["code"], c["source"]) for c in listed] == [("C-17", "settings"), ("C-21", "database")]
    assert "sam" not in json.dumps(listed).lower()
    assert await (await client.get("/api/clients", headers=B)).json() == []

    changed = await client.put("/api/clients/C-21", json={"mode": "face_to_face", "flags": []}, headers=A)
    assert (await changed.json())["mode"] == "face_to_face" and (await changed.json())["email_count"] == 1
    assert (await client.post("/api/clients", json={"code": "C-21"}, headers=A)).status == 409
    assert (await client.delete("/api/clients/C-21", headers=A)).status == 204
    assert [c["code"] for c in await (await client.get("/api/clients", headers=A)).json()] == ["C-17"]
    assert (await client.delete("/api/clients/C-21", headers=A)).status == 404


async def test_another_therapists_client_and_appointment_are_not_found(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    assert (await client.post("/api/clients", json={"code": "C-21"}, headers=A)).status == 201
    appointment = await planned_appointment(client)
    assert (await client.put("/api/clients/C-21", json={"mode": "face_to_face"}, headers=B)).status == 404
    assert (await client.delete("/api/clients/C-21", headers=B)).status == 404
    url = f"/api/appointments/{appointment['appointment_id']}/client"
    assert (await client.put(url, json={"code": "C-21"}, headers=B)).status == 404
    assert (await client.put(url, json={"code": "C-99"}, headers=A)).status == 404  # not A's client
    assert (await client.post("/api/clients", json={"code": "C-21"}, headers=B)).status == 201  # B's own C-21
    assert (await client.get("/api/clients")).status == 401


async def test_the_settings_files_clients_are_read_only_here(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    for response in (
        await client.put("/api/clients/C-17", json={"mode": "face_to_face"}, headers=A),
        await client.delete("/api/clients/C-17", headers=A),
        await client.post("/api/clients", json={"code": "C-17"}, headers=A),
        await client.post("/api/clients", json={"code": "C-21", "meeting_ids": ["85746065432"]}, headers=A),
    ):
        assert response.status == 409 and "settings file" in (await response.json())["reason"]


async def test_bad_input_is_a_400_that_says_why(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    refused = {
        "unknown flag 'animls' (did you mean 'animals'?)": {"code": "C-21", "flags": ["animls"]},
        "mode must be one of online, face_to_face": {"code": "C-21", "mode": "bus"},
        "code must be": {"code": "Sam Smith"},
        "at most 20 items": {"code": "C-21", "meeting_ids": [str(n) for n in range(21)]},
        "no NUL": {"code": "C-21", "display_names": ["a\x00"]},
        "JSON object": ["C-21"],
    }
    for reason, body in refused.items():
        response = await client.post("/api/clients", json=body, headers=A)
        assert response.status == 400 and reason in (await response.json())["reason"], body
    assert (await client.post("/api/clients", data=b"{not json", headers=A)).status == 400
    assert (await client.put("/api/clients/C-17x", data=b"[]", headers=A)).status == 404
    words = await (await client.get("/api/clients/vocabulary", headers=A)).json()
    assert words["modes"] == ["online", "face_to_face"] and {"animals", "minor_attracted"} <= set(words["flags"])
    assert [c["code"] for c in await (await client.get("/api/clients", headers=A)).json()] == ["C-17"]


async def test_a_database_clients_meeting_names_the_new_session(aiohttp_client, make_settings, storage_url):
    client = await aiohttp_client(create_app(make_settings(storage_url)))
    await client.post("/api/clients", json={"code": "C-21", "flags": ["animals"], "meeting_ids": [MEETING_ID]}, headers=A)
    session = await session_on(client, MEETING_ID, "new+1==", datetime.now(timezone.utc).replace(microsecond=0))
    summary = await (await client.get(f"/api/sessions/{session}/summary", headers=A)).json()
    assert summary["client_code"] == "C-21"
    assert "no_pets" in [i["id"] for i in summary["checklist"]["items"]]


async def test_an_appointment_said_to_be_a_client_gets_their_checklist_and_its_session_follows(aiohttp_client, make_settings, storage_url):
    client = await aiohttp_client(create_app(make_settings(storage_url)))
    appointment = await planned_appointment(client)
    assert appointment["client_code"] is None
    await client.post("/api/clients", json={"code": "C-21", "flags": ["animals"]}, headers=A)
    url = f"/api/appointments/{appointment['appointment_id']}"
    said = await client.put(f"{url}/client", json={"code": "c-21"}, headers=A)
    assert said.status == 200
    answer = await said.json()
    assert (answer["client_code"], answer["moved_from"]) == ("C-21", None)
    checklist = await (await client.get(f"{url}/checklist", headers=A)).json()
    assert "no_pets" in [i["id"] for i in checklist["items"]] and checklist == answer["checklist"]
    listed = await (await client.get("/api/clients", headers=A)).json()
    assert listed[1]["meeting_ids"] == [MEETING_ID]

    session = await session_on(client, MEETING_ID, "occ+1==", START + timedelta(minutes=2))
    assert (await (await client.get(f"/api/sessions/{session}/summary", headers=A)).json())["client_code"] == "C-21"
    # Said to be the settings file's client instead: the meeting moves; the session already recorded keeps its code.
    moved = await (await client.put(f"{url}/client", json={"code": "C-17"}, headers=A)).json()
    assert (moved["client_code"], moved["moved_from"]) == ("C-17", "C-21")
    assert "no_family_photos" in [i["id"] for i in moved["checklist"]["items"]]
    assert (await (await client.get(f"/api/sessions/{session}/summary", headers=A)).json())["client_code"] == "C-21"
    assert (await (await client.put(f"{url}/client", json={"code": None}, headers=A)).json())["client_code"] is None


async def test_a_forgotten_clients_sessions_keep_their_code(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    await client.post("/api/clients", json={"code": "C-21", "meeting_ids": [MEETING_ID]}, headers=A)
    session = await session_on(client, MEETING_ID, "old+1==", datetime.now(timezone.utc).replace(microsecond=0))
    assert (await client.delete("/api/clients/C-21", headers=A)).status == 204
    assert (await (await client.get(f"/api/sessions/{session}/summary", headers=A)).json())["client_code"] == "C-21"
    later = await session_on(client, MEETING_ID, "new+2==", datetime.now(timezone.utc).replace(microsecond=0))
    assert (await (await client.get(f"/api/sessions/{later}/summary", headers=A)).json())["client_code"] is None
