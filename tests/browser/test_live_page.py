"""In Chromium: a scripted session (signed webhooks plus the fake RTMS server) updates the live page as it happens.

The camera goes off (the running off-timer), an alert arrives through the notice stream without a reload,
the camera-off prompt is answered with Enter, a note survives a dropped connection, the notes are there
after signing out and back in, and the summary and its PDF carry the note.
"""
from __future__ import annotations

import io
import re
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

from bot.storage.store import session_id_for
from integrations.zoom.rtms import protocol as rtms
from integrations.zoom.scripted.rtms_server import RtmsScriptServer
from integrations.zoom.scripted.webhooks import ScriptedMeeting, ScriptedPerson
from tests.browser.conftest import (
    ALERT_SECONDS,
    Browser,
    Service,
    no_sideways_scroll,
    sign_in,
)
from tests.conftest import THERAPIST_A_HOST, TOKEN_A
from tests.fakes.rtms_server import RTMS_CLIENT_ID, RTMS_SECRET, followed_session

MEETING_ID = "85746065432"  # client C-17's meeting in the config
UUID = "br0wserL1veSess10n000A=="
STREAM_ID = "b7055e7f1c0ffee00000000000000b01"
THERAPIST = ScriptedPerson("16778240", "Dr Ruth Therapist", "A1B2C3D4-0000-4000-8000-0000000000B1", account_id=THERAPIST_A_HOST)
CLIENT = ScriptedPerson("16779264", "Sam Client", "C1C2C3C4-0000-4000-8000-0000000000B2", email="sam.client@example.net")
PROMPT_NOTE = "Went to answer the door; came back calm."
FREE_NOTE = "Client mentioned a new job interview."
OFFLINE_NOTE = "Written while the connection was down."
SETTLE_SECONDS = 60  # bot/core/session_notices.py SETTLE: a camera-off prompt waits this long for late events
ENDED_TEXT = "The call has ended. Notes you add are still saved; the summary holds the record."
TIMER = re.compile(r"^Off for (?:(\d+) min )?(\d+) s \(since \d\d:\d\d\)$")


def now_ms() -> int:
    return int(time.time() * 1000)


def off_seconds(text: str) -> int:
    match = TIMER.match(text)
    assert match, f"the camera line reads {text!r}"
    return int(match.group(1) or 0) * 60 + int(match.group(2))


async def test_a_scripted_session_updates_the_live_page_and_the_note_reaches_the_summary(service: Service, browser: Browser) -> None:
    from playwright.async_api import (
        expect,  # here, not at the top: without Playwright the fixtures skip (or fail in CI)
    )

    page = browser.page
    session_id = session_id_for("zoom", UUID)
    server = RtmsScriptServer(RTMS_CLIENT_ID, RTMS_SECRET, keep_alive_seconds=1.0)
    await server.start()
    try:
        # The meeting started a minute ago; the therapist and the client are in it, and RTMS follows the client.
        start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)
        meeting = ScriptedMeeting(start, MEETING_ID, UUID, THERAPIST_A_HOST, topic="Weekly session")
        stream = await followed_session(server, meeting, STREAM_ID, THERAPIST, CLIENT, service.webhook, timeout=10)

        # Each connection to the notice stream: with a ticket of its own, never a token.
        streams: list[str] = []
        page.on("request", lambda request: streams.append(request.url) if "/api/notices/stream" in request.url else None)

        # The live page's address, signed out, leads through the sign-in form and back to it.
        await browser.goto(f"/sessions/{session_id}")
        assert "/sign-in" in page.url
        await sign_in(browser)
        assert page.url == f"{browser.base}/sessions/{session_id}"
        await page.get_by_role("heading", name="Session with C-17").wait_for()
        await expect(page.locator("#connection")).to_have_text("Live: updates arrive as they happen.")
        await expect(page.locator("#camera")).to_have_text("On")
        await expect(page.locator("#present li")).to_have_text(["Therapist (you)", "Client C-17"])
        await expect(page.locator("#alerts li")).to_have_count(0)
        await page.evaluate("window.__samePage = true")  # gone if anything below reloads the page
        await browser.shot("live")

        # The camera goes off: the page says so and counts the seconds, and the alert comes through the stream.
        await stream.send_event(rtms.PARTICIPANT_VIDEO_OFF, now_ms(), int(CLIENT.user_id), CLIENT.name)
        await expect(page.locator("#camera")).to_have_text(TIMER)
        first = off_seconds(await page.locator("#camera").inner_text())
        await page.wait_for_timeout(2500)  # the page redraws the timer once a second
        later = off_seconds(await page.locator("#camera").inner_text())
        assert first + 1 <= later <= first + 4, f"the off-timer did not run: {first} s, then {later} s"
        alert = page.locator("#alerts li.kind-client_video_off")
        await expect(alert).to_have_count(1, timeout=15_000)
        assert "The client's video has been off for" in await alert.inner_text()
        await expect(page.locator("#no-alerts")).to_be_hidden()
        await expect(page.locator("#camera-count")).to_have_text("Off once so far")
        assert await page.evaluate("window.__samePage === true"), "the page reloaded to show the alert"
        assert off_seconds(await page.locator("#camera").inner_text()) >= ALERT_SECONDS
        await browser.shot("live-camera-off-alert")

        # The camera is back on. Its note prompt is worded once no event up to the interval's end has come
        # for a minute (bot/core/session_notices.py SETTLE): it arrives further down, while the page stays open.
        await stream.send_event(rtms.PARTICIPANT_VIDEO_ON, now_ms(), int(CLIENT.user_id), CLIENT.name)
        back_on = time.monotonic()
        await expect(page.locator("#camera")).to_have_text("On")

        # A note of one's own: Enter saves, and the page says when.
        free = page.locator("#free-note")
        await free.get_by_role("textbox").fill(FREE_NOTE)
        await free.get_by_role("textbox").press("Enter")
        await expect(free.locator(".note-status")).to_have_text(re.compile(r"^Saved at \d\d:\d\d\.$"))
        await expect(free.get_by_role("textbox")).to_have_value("")
        await expect(page.locator("#notes li").first).to_contain_text(FREE_NOTE)
        await browser.shot("live-notes-saved")

        # The connection drops while saving: the page says the note is not saved yet and keeps the text,
        # then saves it on its own once the connection is back (it retries with backoff).
        browser.tolerated.append(re.compile(r"net::ERR_INTERNET_DISCONNECTED"))
        await browser.context.set_offline(True)
        await free.get_by_role("textbox").fill(OFFLINE_NOTE)
        await free.get_by_role("textbox").press("Enter")
        await expect(free.locator(".note-status")).to_contain_text("Not saved yet: the connection dropped. Your text is kept")
        await expect(free.get_by_role("textbox")).to_have_value(OFFLINE_NOTE)
        await browser.shot("live-note-offline")
        await browser.context.set_offline(False)
        await expect(free.locator(".note-status")).to_have_text(re.compile(r"^Saved at \d\d:\d\d\.$"), timeout=15_000)
        await expect(free.get_by_role("textbox")).to_have_value("")
        await expect(page.locator("#notes li").first).to_contain_text(OFFLINE_NOTE)
        await expect(page.locator("#connection")).to_have_text("Live: updates arrive as they happen.", timeout=10_000)
        browser.tolerated.clear()

        # A side panel or a phone: the page opened 320 px wide; nothing scrolls sideways.
        await page.set_viewport_size({"width": 320, "height": 640})
        await page.reload()
        await expect(page.locator("#connection")).to_have_text("Live: updates arrive as they happen.")
        await expect(page.locator("#notes li")).to_have_count(2)
        await no_sideways_scroll(browser)
        await browser.shot("live-320")
        await page.set_viewport_size({"width": 1024, "height": 800})
        await page.reload()
        await expect(page.locator("#connection")).to_have_text("Live: updates arrive as they happen.")
        await page.evaluate("window.__samePage = true")

        # The prompt arrives through the stream (no reload) and asks what the client was doing; Enter saves the answer.
        prompt = page.locator("#prompts li.prompt")
        await expect(prompt).to_have_count(1, timeout=int((SETTLE_SECONDS + 20 - (time.monotonic() - back_on)) * 1000))
        assert "The client's camera was off for" in await prompt.inner_text() and "What were they doing?" in await prompt.inner_text()
        await expect(page.locator("#no-prompts")).to_be_hidden()
        assert await page.evaluate("window.__samePage === true"), "the page reloaded to show the prompt"
        prompt_id = await prompt.get_attribute("data-prompt")
        await browser.shot("live-prompt")
        box = prompt.get_by_role("textbox")
        await box.fill(PROMPT_NOTE)
        await box.press("Enter")
        await expect(prompt.locator("p.saved")).to_have_text(re.compile(r"^Noted at \d\d:\d\d\.$"))
        await expect(page.locator("#notes li").first).to_contain_text(PROMPT_NOTE)
        await browser.shot("live-prompt-answered")

        # Stored once each, the prompt's answer with its prompt_id.
        notes = (await service.api(f"/api/sessions/{session_id}/summary"))["notes"]
        assert [(n["text"], n["prompt_id"]) for n in notes] == [(FREE_NOTE, None), (OFFLINE_NOTE, None), (PROMPT_NOTE, prompt_id)]

        # Sign out, and back in: the notes are on the page, the prompt answered.
        await page.get_by_role("button", name="Sign out").click()
        await page.get_by_role("heading", name="Sign in").wait_for()
        assert page.url == f"{browser.base}/sign-in"
        await browser.goto(f"/sessions/{session_id}")
        assert "/sign-in" in page.url
        await browser.shot("signed-out")
        await sign_in(browser)
        assert page.url == f"{browser.base}/sessions/{session_id}"
        await expect(page.locator("#notes li")).to_have_count(3)
        texts = await page.locator("#notes li").all_inner_texts()
        assert [t.split(" ", 1)[1] for t in texts] == [PROMPT_NOTE, OFFLINE_NOTE, FREE_NOTE]  # newest first, after the time
        await expect(page.locator(f'#prompts li[data-prompt="{prompt_id}"] p.saved')).to_have_text("Noted.")
        await expect(page.locator("#alerts li.kind-client_video_off")).to_have_count(1)
        await browser.shot("live-after-sign-in")

        # Four pages loaded: each opened its stream with a new ticket, none with a token.
        tickets = [parse_qs(urlsplit(url).query).get("ticket", [""])[0] for url in streams]
        assert len(tickets) >= 4 and all(tickets) and len(set(tickets)) == len(tickets), streams
        assert not [url for url in streams if "access_token" in url or TOKEN_A in url]

        # The meeting ends.
        meeting.steps.clear()
        ended_at = (datetime.now(timezone.utc) - start).total_seconds()
        meeting.left(ended_at, CLIENT)
        meeting.left(ended_at, THERAPIST)
        meeting.ended(ended_at)
        for _, body in meeting.steps:
            await service.webhook(body)
        # The page still open says so without a reload: no longer live, nobody present, no camera to watch.
        await expect(page.locator("#connection")).to_have_text(ENDED_TEXT, timeout=10_000)
        await expect(page.locator("#status")).to_have_text("Ended")
        await expect(page.locator("#camera")).to_have_text("Call ended")
        await expect(page.locator("#present li")).to_have_text(["Nobody: the call has ended"])
        await expect(page.locator("#camera-count")).to_have_text("Off once in the call")
        await browser.shot("live-ended")
        await page.reload()  # and so does the page loaded afresh
        await expect(page.locator("#connection")).to_have_text(ENDED_TEXT)
        await expect(page.locator("#camera")).to_have_text("Call ended")
    finally:
        await server.stop()

    # The summary and its PDF.
    from pdfminer.high_level import extract_text

    await browser.goto(f"/sessions/{session_id}/summary")
    await page.get_by_role("heading", name="Session summary: C-17").wait_for()
    assert PROMPT_NOTE in await page.locator("main").inner_text()
    assert await page.locator("figure svg").count() == 1
    await browser.shot("summary")
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download PDF").click()
    download = await download_info.value
    assert download.suggested_filename == f"summary-{session_id}.pdf"
    pdf = (await download.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    text = " ".join(extract_text(io.BytesIO(pdf)).split())  # a line break in the PDF is a space here
    assert PROMPT_NOTE in text and "C-17" in text
