"""In Chromium: the clients page adds a pseudonymous client with flags from the checklist's words, and removes it."""
from __future__ import annotations

from tests.browser.conftest import Browser, Service, no_sideways_scroll, sign_in


async def test_add_a_client_by_the_form_then_remove_it(service: Service, browser: Browser) -> None:
    from playwright.async_api import expect

    page = browser.page
    await browser.goto("/sign-in")
    await sign_in(browser)
    await page.get_by_role("link", name="Clients").click()
    await page.get_by_role("heading", name="Your clients").wait_for()
    await expect(page.locator("tbody tr").first).to_contain_text("C-17")
    await browser.shot("clients")

    await page.get_by_label("Code (a pseudonym such as C-17)").fill("c-52")
    await page.get_by_label("Seen").select_option("face_to_face")
    await page.get_by_label("animals").check()
    await page.get_by_role("button", name="Add client").click()
    row = page.locator("tbody tr", has_text="C-52")
    await expect(row).to_contain_text("face to face")
    await expect(row).to_contain_text("animals")
    clients = {c["code"]: c for c in await service.api("/api/clients")}
    assert clients["C-52"]["source"] == "database" and clients["C-52"]["flags"] == ["animals"]
    await browser.shot("clients-added")

    await page.get_by_label("Code (a pseudonym such as C-17)").fill("C-53")
    await page.get_by_label("animals").check()
    await page.get_by_label("Zoom meeting ids or Teams join links that are this client's (one a line)").fill("85746065432")  # C-17's, in the settings file
    await page.get_by_role("button", name="Add client").click()
    await expect(page.locator("#problem")).to_contain_text("settings file")
    await browser.shot("clients-refused")
    browser.problems.clear()  # the refusal's 409, which the browser reports as a failed load: expected here

    await page.get_by_role("button", name="Remove client C-52").click()
    await expect(page.locator("tbody")).not_to_contain_text("C-52")
    assert "C-52" not in {c["code"] for c in await service.api("/api/clients")}
    await page.set_viewport_size({"width": 320, "height": 640})
    await browser.goto("/clients")
    await browser.shot("clients-320")
    await no_sideways_scroll(browser)
    await browser.check_clean()
