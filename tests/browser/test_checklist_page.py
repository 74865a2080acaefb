"""In Chromium: sign in, find the planned appointment, tick two checklist points (one with the keyboard only)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from integrations.zoom.scripted.webhooks import ScriptedMeeting
from tests.browser.conftest import Browser, Service, no_sideways_scroll, sign_in
from tests.conftest import THERAPIST_A_HOST

MEETING_ID = "85746065432"  # client C-17's meeting in the config


async def test_sign_in_then_tick_two_points_one_by_keyboard_and_they_stay_ticked(service: Service, browser: Browser) -> None:
    from playwright.async_api import (
        expect,  # here, not at the top: without Playwright the fixtures skip (or fail in CI)
    )

    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=45)
    meeting = ScriptedMeeting(start, MEETING_ID, "br0wserChecklist0000A==", THERAPIST_A_HOST, topic="Weekly session")
    meeting.created(-45 * 60)
    await service.webhook(meeting.steps[0][1])
    (appointment,) = [a for a in await service.api("/api/appointments") if a["meeting_id"] == MEETING_ID]
    appointment_id, total = appointment["appointment_id"], appointment["checklist"]["total"]
    assert total >= 3 and appointment["checklist"]["confirmed"] == 0
    page = browser.page

    # Signed out, the start page sends the browser to the sign-in form.
    await browser.goto("/")
    assert "/sign-in" in page.url
    await page.get_by_role("heading", name="Sign in").wait_for()
    await browser.shot("sign-in")
    await sign_in(browser)
    assert page.url == browser.base + "/"
    await page.get_by_role("heading", name="Hello, Therapist A").wait_for()
    link = page.locator(f'a[href="/appointments/{appointment_id}/checklist"]')
    assert "C-17" in await link.inner_text()
    assert f"0 of {total} checked" in " ".join((await page.locator("main").inner_text()).split())
    await browser.shot("home")

    await link.click()
    await page.get_by_role("heading", name="Pre-call checklist").wait_for()
    assert await page.locator("#progress-count").inner_text() == f"0 of {total}"
    await browser.shot("checklist")

    # One tap ticks the first point in place (no reload).
    await page.evaluate("window.__samePage = true")
    points = page.locator("li.point")
    first = points.nth(0)
    await first.locator("button.tick-button").click()
    await page.locator("li.point.done").first.wait_for()
    await expect(page.locator("#progress-count")).to_have_text(f"1 of {total}")
    assert (await first.locator(".when").inner_text()).startswith("Checked at ")
    assert await first.locator("button.tick-button").get_attribute("aria-pressed") == "true"
    assert await page.evaluate("window.__samePage === true")

    # The keyboard only: Tab from the top of the page to the first open point, and Space ticks it.
    await browser.goto(f"/appointments/{appointment_id}/checklist")
    for _ in range(40):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.matches('button.tick-button[aria-pressed=\"false\"]')"):
            break
    else:
        raise AssertionError("Tab never reached an open checklist point")
    focused_point = await page.evaluate("document.activeElement.closest('li.point').id")
    assert focused_point == await points.nth(1).get_attribute("id")
    outline = await page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth, s.outlineColor]; })()"
    )
    assert outline[0] != "none" and float(outline[1].removesuffix("px")) >= 2, f"no visible focus style: {outline}"
    await browser.shot("checklist-keyboard-focus")
    await page.keyboard.press("Space")
    await expect(page.locator(f"#{focused_point}")).to_have_class(re.compile(r"\bdone\b"))
    assert await page.locator("#progress-count").inner_text() == f"2 of {total}"
    await browser.shot("checklist-two-ticked")

    # Both ticks are stored: the JSON API has them, and the page shows them after a reload.
    stored = await service.api(f"/api/appointments/{appointment_id}/checklist")
    ticked = [item["id"] for item in stored["items"] if item["confirmed_at"]]
    assert stored["confirmed"] == 2 and ticked == [(await points.nth(i).get_attribute("id")).removeprefix("point-") for i in (0, 1)]
    await page.reload()
    assert await page.locator("#progress-count").inner_text() == f"2 of {total}"
    assert await page.locator("li.point.done").count() == 2
    assert all(text.startswith("Checked at ") for text in await page.locator("li.point.done .when").all_inner_texts())

    # A side panel or a phone: 320 px wide, nothing scrolls sideways.
    await page.set_viewport_size({"width": 320, "height": 640})
    await page.reload()
    await no_sideways_scroll(browser)
    await browser.shot("checklist-320")
    await browser.goto("/")
    await no_sideways_scroll(browser)
    await browser.shot("home-320")
