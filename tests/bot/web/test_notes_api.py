"""Answering note prompts and marking changes by hand, through the API, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.core import events as ev
from bot.storage import schema
from bot.web import keys
from bot.web.app import create_app
from tests.bot.timekeeping.harness import CLIENT, MEETING, SESSION, T0, THERAPIST, Clock
from tests.conftest import TOKEN_A, TOKEN_B

A = {"Authorization": f"Bearer {TOKEN_A}"}
OTHER_MEETING = ev.MeetingRef("zoom", "uuid-occurrence-2==", "85746065432", MEETING.host_id)


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
async def live(aiohttp_client, make_settings, storage_url):
    clock = Clock(at(30))
    client = await aiohttp_client(create_app(make_settings(storage_url), clock=clock))
    await happen(client, clock, 30, ev.MeetingStarted(meeting=MEETING, at=T0), ev.ParticipantJoined(meeting=MEETING, at=T0, participant=THERAPIST),
                 ev.ParticipantJoined(meeting=MEETING, at=at(30), participant=CLIENT))
    return client, clock


async def happen(client, clock, seconds, *events, meeting=MEETING):
    """Store events at the clock's `seconds` as a platform would, and wait until the session is judged."""
    clock.now = at(seconds)
    keyed = [(f"test:{meeting.occurrence_id}:{e.kind}:{e.at.isoformat()}:{getattr(e, 'on', '')}", e) for e in events]
    await client.app[keys.TRACKER].record(meeting, keyed)
    await judged(client, clock, seconds)


async def judged(client, clock, seconds, session=SESSION):
    clock.now = at(seconds)
    client.app[keys.EVALUATION].submit(session)
    await client.app[keys.EVALUATION].drain()


def camera(seconds: float, on: bool) -> ev.VideoStateChanged:
    return ev.VideoStateChanged(meeting=MEETING, at=at(seconds), participant=CLIENT, on=on)


async def prompts(client) -> list[dict]:
    return await (await client.get(f"/api/notices?session_id={SESSION}&kind=note_prompt", headers=A)).json()


async def summary(client, fmt: str = "json"):
    response = await client.get(f"/api/sessions/{SESSION}/summary?format={fmt}", headers=A)
    assert response.status == 200
    return await response.json() if fmt == "json" else await response.text()


async def test_a_note_answering_a_camera_prompt_shows_against_its_change_and_an_unanswered_one_says_so(live):
    client, clock = live
    await happen(client, clock, 280, camera(100, False), camera(280, True))
    await happen(client, clock, 700, camera(600, False), camera(700, True))
    await judged(client, clock, 800)
    second, first = await prompts(client)  # newest first
    assert first["message"] == "The client's camera was off for 3 min (10:01-10:04). What were they doing?"
    response = await client.post(f"/api/sessions/{SESSION}/notes", json={"text": "Fetched a glass of water", "prompt_id": first["id"]}, headers=A)
    assert response.status == 201
    changes = (await summary(client))["framing_changes"]
    assert [(c["source"], c["prompt_id"], c["note"]) for c in changes] == [
        ("camera", str(first["id"]), "Fetched a glass of water"),
        ("camera", str(second["id"]), None),
    ]
    assert (await summary(client))["unanswered_changes"] == 1
    for fmt in ("md", "html"):
        text = await summary(client, fmt)
        assert "Camera off: off for 3 min, until the camera came back on (camera). Note: Fetched a glass of water" in text
        assert "Camera off: off for 1 min 40 s, until the camera came back on (camera). No note: unanswered." in text
        assert "1 of 2 change(s) have no note." in text


async def test_a_prompt_id_that_is_not_a_prompt_of_the_session_is_400_and_stores_nothing(live):
    client, clock = live
    await happen(client, clock, 500, camera(100, False), camera(400, True))
    await judged(client, clock, 600)
    await happen(client, clock, 700, ev.MeetingStarted(meeting=OTHER_MEETING, at=at(650)), meeting=OTHER_MEETING)
    other = await client.app[keys.STORE].session_for_occurrence("zoom", OTHER_MEETING.occurrence_id)
    (start_reminder,) = [n for n in await client.app[keys.STORE].notices("t1", SESSION) if n.kind == "start_reminder"]
    other_prompt = await client.app[keys.STORE].raise_notice("t1", other.id, "note_prompt", f"{other.id}:note_prompt:x", at(700), "?", at(700))
    for wrong in ("fr-1", 999999, str(start_reminder.id), other_prompt.id, True, 1.5, "0x1", "\u0661", [1]):
        response = await client.post(f"/api/sessions/{SESSION}/notes", json={"text": "x", "prompt_id": wrong}, headers=A)
        assert response.status == 400, wrong
        assert "prompt_id" in (await response.json())["reason"]
    assert (await summary(client))["notes"] == []
    (prompt,) = await prompts(client)
    ok = await client.post(f"/api/sessions/{SESSION}/notes", json={"text": "x", "prompt_id": str(prompt["id"])}, headers=A)
    assert ok.status == 201  # the id as digits does too


async def test_a_change_marked_by_hand_prompts_and_can_be_answered(live):
    client, clock = live
    clock.now = at(1200)
    response = await client.post(f"/api/sessions/{SESSION}/changes", json={"kind": "lying_down", "detail": " On the sofa "}, headers=A)
    assert response.status == 201
    marked = await response.json()
    assert (marked["at"], marked["kind"], marked["detail"], marked["source"]) == ("2026-11-20T10:20:00Z", "lying_down", "On the sofa", "therapist")
    await client.app[keys.EVALUATION].drain()
    (prompt,) = await prompts(client)
    assert prompt["message"] == "You marked a change at 10:20: lying down. Anything to note?"  # the detail stays out of messages
    answer = await client.post(f"/api/sessions/{SESSION}/notes", json={"text": "Said their back hurt", "prompt_id": prompt["id"]}, headers=A)
    assert answer.status == 201
    (change,) = (await summary(client))["framing_changes"]
    assert change == {
        "id": marked["id"], "at": "2026-11-20T10:20:00Z", "kind": "lying_down", "detail": "On the sofa",
        "source": "therapist", "prompt_id": str(prompt["id"]), "note": "Said their back hurt",
    }
    assert "Lying down: On the sofa (marked by the therapist). Note: Said their back hurt" in await summary(client, "md")


async def events_stored(client) -> int:
    async with client.app[keys.STORE].engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(schema.events))).scalar_one()


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"kind": "sleeping"}, "kind must be one of"),
        ({}, "kind must be one of"),
        ({"kind": "other", "detail": "x" * 201}, "detail must be at most 200"),
        ({"kind": "other", "detail": "NUL \x00"}, "detail must be"),
        ({"kind": "other", "detail": "lone \ud800"}, "detail must be"),
        ({"kind": "other", "detail": 5}, "detail must be"),
        ([], "kind must be one of"),
    ],
)
async def test_a_change_that_cannot_be_marked_is_400_with_a_reason_and_stores_nothing(live, body, reason):
    import json

    client, _ = live
    before = await events_stored(client)
    raw = json.dumps(body).encode()
    response = await client.post(f"/api/sessions/{SESSION}/changes", data=raw, headers={**A, "Content-Type": "application/json"})
    assert response.status == 400 and reason in (await response.json())["reason"]
    assert await events_stored(client) == before


async def test_marking_a_change_is_scoped_to_the_therapists_own_sessions(live):
    client, _ = live
    before = await events_stored(client)
    assert (await client.post(f"/api/sessions/{SESSION}/changes", json={"kind": "other"}, headers={"Authorization": f"Bearer {TOKEN_B}"})).status == 404
    assert (await client.post(f"/api/sessions/{SESSION}/changes", json={"kind": "other"})).status == 401
    assert (await client.post("/api/sessions/s-none/changes", json={"kind": "other"}, headers=A)).status == 404
    assert await events_stored(client) == before
