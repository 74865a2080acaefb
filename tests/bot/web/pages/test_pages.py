"""What the pages show: the start page, a checklist grouped and ticked, the live session with its camera and prompts."""
from __future__ import annotations

import re

from bot.core import events as ev
from bot.web.app import create_app
from tests.bot.timekeeping.harness import CLIENT, MEETING, SESSION, THERAPIST, Clock
from tests.bot.web.pages.conftest import csrf_of, set_passwords, sign_in
from tests.bot.web.test_appointments import plan
from tests.bot.web.test_notes_api import at, camera, happen, judged, prompts
from tests.conftest import TOKEN_A

A = {"Authorization": f"Bearer {TOKEN_A}"}


async def signed_in_live(aiohttp_client, settings, seconds: float = 30):
    clock = Clock(at(seconds))
    client = await aiohttp_client(create_app(settings, clock=clock))
    await set_passwords(client.app)
    await happen(client, clock, seconds, ev.MeetingStarted(meeting=MEETING, at=at(0)), ev.ParticipantJoined(meeting=MEETING, at=at(0), participant=THERAPIST),
                 ev.ParticipantJoined(meeting=MEETING, at=at(30), participant=CLIENT))
    assert (await sign_in(client)).status == 303
    return client, clock


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


async def test_the_live_page_shows_who_is_present_the_camera_and_the_prompts(aiohttp_client, settings):
    client, clock = await signed_in_live(aiohttp_client, settings)
    await happen(client, clock, 280, camera(100, False), camera(280, True))
    await happen(client, clock, 400, camera(390, False))
    page = await (await client.get(f"/sessions/{SESSION}")).text()
    shown = text_of(page)
    assert "Session with C-17" in shown and "Therapist (you)" in shown and "Client C-17" in shown
    assert "Client Person" not in page and "client@" not in page  # people by role, never by name
    assert f'data-off-since="{at(390).strftime("%Y-%m-%dT%H:%M:%SZ")}"' in page
    assert "Off 2 times so far" in shown
    (prompt,) = await prompts(client)
    assert f'data-prompt="{prompt["id"]}"' in page and "What were they doing?" in shown
    state = await (await client.get(f"/sessions/{SESSION}/live.json")).json()
    assert state == {"status": "in_progress", "present": ["Therapist (you)", "Client C-17"], "camera_off_since": at(390).strftime("%Y-%m-%dT%H:%M:%SZ"), "off_count": 2}

    token = csrf_of(page)
    note = await client.post(f"/api/sessions/{SESSION}/notes", json={"text": "Made tea", "prompt_id": prompt["id"]}, headers={"X-CSRF-Token": token})
    assert note.status == 201
    await happen(client, clock, 420, camera(415, True))
    page = await (await client.get(f"/sessions/{SESSION}")).text()
    assert "Noted." in page and "Made tea" in page and 'data-off-since=""' in page
    summary = await (await client.get(f"/api/sessions/{SESSION}/summary", headers=A)).json()
    assert summary["framing_changes"][0]["note"] == "Made tea"


async def test_the_checklist_page_is_grouped_as_the_file_and_a_tap_ticks_a_point(aiohttp_client, settings):
    client, clock = await signed_in_live(aiohttp_client, settings)
    page = await (await client.get(f"/sessions/{SESSION}/checklist")).text()
    shown = text_of(page)
    assert "Knowing the client" in shown and "0 of" in shown
    assert 'id="point-no_family_photos"' in page and 'id="point-no_pets"' not in page  # tailored to C-17
    token = csrf_of(page)
    tick = await client.post(f"/sessions/{SESSION}/checklist/no_family_photos", data={"csrf_token": token}, allow_redirects=False)
    assert tick.status == 303 and tick.headers["Location"] == f"/sessions/{SESSION}/checklist"
    page = await (await client.get(f"/sessions/{SESSION}/checklist")).text()
    assert re.search(r'id="point-no_family_photos"[^>]*>', page) and 'class="point done" id="point-no_family_photos"' in page
    assert "1 of" in text_of(page) and "Checked at" in text_of(page)
    missing = await client.post(f"/sessions/{SESSION}/checklist/no_pets", data={"csrf_token": token}, allow_redirects=False)
    assert missing.status == 404 and "no such point" in await missing.text()


async def test_the_start_page_lists_todays_appointments_with_progress_and_the_live_session(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    await set_passwords(client.app)
    await plan(client)  # an appointment 30 minutes from now
    (appointment,) = await (await client.get("/api/appointments", headers=A)).json()
    await client.post(f"/api/appointments/{appointment['appointment_id']}/checklist/own_dress", headers=A)
    await sign_in(client)
    page = await (await client.get("/")).text()
    assert f'href="/appointments/{appointment["appointment_id"]}/checklist"' in page
    assert re.search(r'<progress max="\d+" value="1"', page) and "C-17" in page
    checklist = await (await client.get(f"/appointments/{appointment['appointment_id']}/checklist")).text()
    assert "Appointment with C-17" in text_of(checklist) and "1 of" in text_of(checklist)


async def test_a_live_session_is_on_the_start_page_and_an_ended_one_under_recent(aiohttp_client, settings):
    client, clock = await signed_in_live(aiohttp_client, settings)
    page = await (await client.get("/")).text()
    assert f'href="/sessions/{SESSION}"' in page
    await happen(client, clock, 3000, ev.MeetingEnded(meeting=MEETING, at=at(3000)))
    await judged(client, clock, 3000)
    page = await (await client.get("/")).text()
    assert f'href="/sessions/{SESSION}/summary"' in page and f'href="/sessions/{SESSION}"' not in page


async def test_the_live_page_of_an_ended_call_says_it_has_ended_not_live(aiohttp_client, settings):
    client, clock = await signed_in_live(aiohttp_client, settings)
    shown = text_of(await (await client.get(f"/sessions/{SESSION}")).text())
    assert "Connecting to live updates" in shown and "has ended" not in shown and "Call ended" not in shown
    await happen(client, clock, 3000, ev.MeetingEnded(meeting=MEETING, at=at(3000)))
    page = await (await client.get(f"/sessions/{SESSION}")).text()
    shown = text_of(page)
    assert 'data-ended="yes"' in page and "Ended ·" in shown
    assert "The call has ended. Notes you add are still saved" in shown and "Connecting to live updates" not in shown
    assert "Call ended" in shown and "Nobody: the call has ended" in shown and "Nobody yet" not in shown
    assert "Not off in the call" in shown and "so far" not in shown
    state = await (await client.get(f"/sessions/{SESSION}/live.json")).json()
    assert state["status"] == "ended" and state["present"] == [] and state["camera_off_since"] is None


async def test_the_summary_page_draws_the_timeline_and_its_downloads_carry_the_note(aiohttp_client, settings):
    import io

    from pdfminer.high_level import extract_text

    client, clock = await signed_in_live(aiohttp_client, settings)
    await happen(client, clock, 280, camera(100, False), camera(280, True))
    await judged(client, clock, 400)
    (prompt,) = await prompts(client)
    token = csrf_of(await (await client.get(f"/sessions/{SESSION}")).text())
    await client.post(f"/api/sessions/{SESSION}/notes", json={"text": "Fetched water from the kitchen", "prompt_id": prompt["id"]}, headers={"X-CSRF-Token": token})
    await happen(client, clock, 3000, ev.MeetingEnded(meeting=MEETING, at=at(3000)))
    page = await client.get(f"/sessions/{SESSION}/summary")
    text = await page.text()
    assert page.status == 200 and "<svg" in text and 'role="img"' in text and "Fetched water from the kitchen" in text
    assert " style=" not in text.split("<main", 1)[1]  # the CSP allows no inline style
    for extension, kind in (("md", "text/markdown"), ("html", "text/html"), ("pdf", "application/pdf")):
        download = await client.get(f"/sessions/{SESSION}/summary.{extension}")
        assert download.status == 200 and download.headers["Content-Type"].startswith(kind)
        assert download.headers["Content-Disposition"] == f'attachment; filename="summary-{SESSION}.{extension}"'
        body = await download.read()
        content = extract_text(io.BytesIO(body)) if extension == "pdf" else body.decode()
        assert "Fetched water from the kitchen" in content and "C-17" in content, extension
    assert "<svg" in (await (await client.get(f"/sessions/{SESSION}/summary.html")).text())


async def test_the_clients_page_adds_and_removes_a_client_and_an_appointment_says_which_client(aiohttp_client, settings):
    client = await aiohttp_client(create_app(settings))
    await set_passwords(client.app)
    await plan(client)
    (appointment,) = await (await client.get("/api/appointments", headers=A)).json()
    await sign_in(client)
    page = await (await client.get("/clients")).text()
    assert "C-17" in page and "settings file" in page and 'value="animals"' in page
    token = csrf_of(page)
    bad = await client.post("/clients", data={"csrf_token": token, "code": "C-5", "mode": "online", "flags": "animal"})
    assert bad.status == 400 and "animal" in text_of(await bad.text())
    added = await client.post("/clients", data=[("csrf_token", token), ("code", "C-5"), ("mode", "online"), ("flags", "animals")], allow_redirects=False)
    assert added.status == 303
    listed = await (await client.get("/api/clients", headers=A)).json()
    assert {c["code"]: c["source"] for c in listed} == {"C-17": "settings", "C-5": "database"}
    url = f"/appointments/{appointment['appointment_id']}"
    checklist = await (await client.get(f"{url}/checklist")).text()
    assert '<option value="C-5">' in checklist and '<option value="C-17" selected>' in checklist
    # This meeting is C-17's in the settings file, which wins: saying it is C-5's is refused with the reason.
    chosen = await client.post(f"{url}/client", data={"csrf_token": token, "code": "C-5"}, allow_redirects=False)
    assert chosen.status == 409 and "settings file" in text_of(await chosen.text())
    removed = await client.post("/clients/C-5/delete", data={"csrf_token": token}, allow_redirects=False)
    assert removed.status == 303 and "C-5" not in [c["code"] for c in await (await client.get("/api/clients", headers=A)).json()]
    assert (await client.post("/clients/C-17/delete", data={"csrf_token": token})).status == 404


async def test_the_summary_page_and_its_downloads_name_people_by_role_and_show_no_topic(aiohttp_client, settings):
    client, clock = await signed_in_live(aiohttp_client, settings)
    await happen(client, clock, 3000, ev.MeetingEnded(meeting=MEETING, at=at(3000)))
    names = [CLIENT.name, THERAPIST.name]  # the topic, which never reaches the store: tests/test_privacy.py
    for path in ("summary", "summary.md", "summary.html"):
        text = await (await client.get(f"/sessions/{SESSION}/{path}")).text()
        assert not [n for n in names if n in text], path
        assert "C-17" in text and "Therapist" in text, path


async def test_a_therapist_who_opted_in_sees_names_on_the_live_page_but_never_in_a_download(aiohttp_client, make_settings):
    client, clock = await signed_in_live(aiohttp_client, make_settings(privacy={"show_names": True}))
    state = await (await client.get(f"/sessions/{SESSION}/live.json")).json()
    assert state["present"] == [f"Therapist (you) · {THERAPIST.name}", f"Client C-17 · {CLIENT.name}"]
    assert CLIENT.name in text_of(await (await client.get(f"/sessions/{SESSION}")).text())
    for path in ("summary.md", "summary.html"):
        assert CLIENT.name not in await (await client.get(f"/sessions/{SESSION}/{path}")).text(), path
