"""The pages' security: sign-in required, one therapist's pages closed to another, CSRF, lock-out, cookie and headers."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.tracking.tracker import utc_now
from bot.web.app import create_app
from tests.bot.timekeeping.harness import Clock
from tests.bot.web.pages.conftest import PASSWORD_A, csrf_of, set_passwords, sign_in
from tests.bot.web.test_appointments import plan
from tests.bot.web.test_checklist_api import started_session
from tests.conftest import TOKEN_A

A = {"Authorization": f"Bearer {TOKEN_A}"}
TEMPLATES = Path(__file__).parents[4] / "bot" / "web" / "templates"


async def a_session_and_appointment(client) -> tuple[str, str]:
    session = await started_session(client)
    await plan(client)
    (appointment,) = await (await client.get("/api/appointments", headers=A)).json()
    return session, appointment["appointment_id"]


def pages_of(session: str, appointment: str) -> list[str]:
    return [
        "/",
        f"/appointments/{appointment}/checklist",
        f"/sessions/{session}",
        f"/sessions/{session}/live.json",
        f"/sessions/{session}/checklist",
        f"/sessions/{session}/summary",
        f"/sessions/{session}/summary.md",
        f"/sessions/{session}/summary.html",
        f"/sessions/{session}/summary.pdf",
    ]


async def test_every_page_without_sign_in_goes_to_the_sign_in_page(pages_client):
    session, appointment = await a_session_and_appointment(pages_client)
    for path in [*pages_of(session, appointment), "/clients"]:
        response = await pages_client.get(path, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"].startswith("/sign-in?next="), path
    tick = await pages_client.post(f"/sessions/{session}/checklist/own_dress", allow_redirects=False)
    assert tick.status == 303 and tick.headers["Location"].startswith("/sign-in")


async def test_another_therapists_pages_are_not_found(pages_client):
    session, appointment = await a_session_and_appointment(pages_client)
    assert (await sign_in(pages_client, "t2", "correct horse battery staple B")).status == 303
    for path in pages_of(session, appointment)[1:]:
        response = await pages_client.get(path, allow_redirects=False)
        assert response.status == 404, path
        assert "text/html" in response.headers["Content-Type"] and "Not found" in await response.text(), path
    token = csrf_of(await (await pages_client.get("/")).text())
    tick = await pages_client.post(f"/sessions/{session}/checklist/own_dress", data={"csrf_token": token}, allow_redirects=False)
    assert tick.status == 404
    home = await (await pages_client.get("/")).text()
    assert session not in home and appointment not in home


async def test_a_change_without_the_csrf_token_is_refused_and_changes_nothing(pages_client):
    session, appointment = await a_session_and_appointment(pages_client)
    await sign_in(pages_client)
    for data in ({}, {"csrf_token": "not-the-token"}):
        tick = await pages_client.post(f"/appointments/{appointment}/checklist/own_dress", data=data, allow_redirects=False)
        assert tick.status == 403
    api_tick = await pages_client.post(f"/api/sessions/{session}/checklist/own_dress")  # the cookie alone is not enough
    note = await pages_client.post(f"/api/sessions/{session}/notes", json={"text": "forged"})
    assert api_tick.status == 403 and note.status == 403
    checklist = await (await pages_client.get(f"/api/appointments/{appointment}/checklist", headers=A)).json()
    assert checklist["confirmed"] == 0
    summary = await (await pages_client.get(f"/api/sessions/{session}/summary", headers=A)).json()
    assert summary["checklist"]["confirmed"] == 0 and summary["notes"] == []
    sign_out = await pages_client.post("/sign-out", data={}, allow_redirects=False)
    assert sign_out.status == 403 and (await pages_client.get("/", allow_redirects=False)).status == 200  # still signed in

    token = csrf_of(await (await pages_client.get("/")).text())
    tick = await pages_client.post(f"/appointments/{appointment}/checklist/own_dress", data={"csrf_token": token}, allow_redirects=False)
    assert tick.status == 303
    api_tick = await pages_client.post(f"/api/sessions/{session}/checklist/no_family_photos", headers={"X-CSRF-Token": token})
    assert api_tick.status == 200
    assert (await (await pages_client.get(f"/api/appointments/{appointment}/checklist", headers=A)).json())["confirmed"] == 1


async def test_a_sign_in_form_without_its_token_is_refused(pages_client):
    await pages_client.get("/sign-in")
    response = await pages_client.post("/sign-in", data={"account": "t1", "password": PASSWORD_A}, allow_redirects=False)
    assert response.status == 403 and (await pages_client.get("/", allow_redirects=False)).status == 303


async def clocked(aiohttp_client, settings) -> tuple[Clock, object]:
    """Return a clock the test moves, and a client of a service on it whose therapists have passwords."""
    clock = Clock(utc_now())
    client = await aiohttp_client(create_app(settings, clock))
    await set_passwords(client.app)
    return clock, client


async def test_the_sixth_wrong_password_locks_the_account_even_for_the_right_one_across_a_restart(aiohttp_client, settings):
    clock, client = await clocked(aiohttp_client, settings)
    for attempt in range(4):
        assert (await sign_in(client, password=f"wrong password {attempt}")).status == 401
        clock.now += timedelta(minutes=2)
    fifth = await sign_in(client, password="wrong password 4")
    assert fifth.status == 429 and "locked" in await fifth.text() and int(fifth.headers["Retry-After"]) == 15 * 60
    assert (await sign_in(client)).status == 429  # the right password, the sixth try
    await client.close()

    restarted = await aiohttp_client(create_app(settings, clock))  # a new process on the same database
    clock.now += timedelta(minutes=14)
    again = await sign_in(restarted)
    assert again.status == 429 and "Try again after" in await again.text()
    other = await sign_in(restarted, "t2", "correct horse battery staple B")
    assert other.status == 303  # another account is not locked
    clock.now += timedelta(minutes=1, seconds=1)
    assert (await sign_in(restarted)).status == 303


async def test_wrong_passwords_spread_over_more_than_15_minutes_do_not_lock(aiohttp_client, settings):
    clock, client = await clocked(aiohttp_client, settings)
    for attempt in range(8):
        assert (await sign_in(client, password=f"wrong {attempt}")).status == 401
        clock.now += timedelta(minutes=4)
    assert (await sign_in(client)).status == 303


async def test_an_unknown_id_reads_like_a_wrong_password(pages_client):
    unknown = await sign_in(pages_client, "nobody", PASSWORD_A)
    wrong = await sign_in(pages_client, "t1", "not the password at all")
    assert unknown.status == wrong.status == 401
    assert re.search(r"That id and password do not match", await unknown.text())


@pytest.mark.parametrize("public_url, secure", [("http://127.0.0.1:8080", False), ("https://companion.example.org", True)])
async def test_the_cookie_and_the_headers(aiohttp_client, make_settings, public_url, secure):
    client = await aiohttp_client(create_app(make_settings(server={"public_url": public_url, "frame_ancestors": "'self' https://*.zoom.us"})))
    await set_passwords(client.app)
    page = await client.get("/sign-in")  # a browser gets its cookie (and the form's token) here; over https only when Secure
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=43200" in cookie
    assert ("Secure" in cookie) == secure
    if not secure:
        signed_in = (await sign_in(client)).headers["Set-Cookie"]
        assert "HttpOnly" in signed_in and "SameSite=Lax" in signed_in and "Max-Age=43200" in signed_in
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'self' https://*.zoom.us" in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff" and page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert ("Strict-Transport-Security" in page.headers) == secure
    assert (await client.get("/static/companion.css")).headers.get("Cache-Control") != "no-store"


async def test_after_sign_in_the_browser_goes_back_only_to_this_service(pages_client):
    assert (await sign_in(pages_client, next_page="/sessions/x/checklist")).headers["Location"] == "/sessions/x/checklist"
    for elsewhere in ("//evil.example", "https://evil.example/", "/\\evil.example"):
        assert (await sign_in(pages_client, next_page=elsewhere)).headers["Location"] == "/"


def test_no_template_holds_inline_script_or_style():
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\son[a-z]+=", text) and " style=" not in text and "<style" not in text, template.name


async def test_pages_are_off_without_a_session_key(aiohttp_client, make_settings):
    client = await aiohttp_client(create_app(make_settings(server={"session_key": ""})))
    response = await client.get("/", allow_redirects=False)
    assert response.status == 503 and "session_key" in await response.text()
    assert (await client.get("/api/sessions", headers=A)).status == 200  # the API goes on


async def test_signing_out_ends_the_sign_in_on_the_server_and_a_new_password_ends_them_all(pages_client):
    from http.cookies import SimpleCookie

    from bot.web import keys
    from bot.web.passwords import hash_password

    await sign_in(pages_client)
    kept = SimpleCookie()
    kept["companion_sign_in"] = pages_client.session.cookie_jar.filter_cookies(pages_client.make_url("/"))["companion_sign_in"].value
    token = csrf_of(await (await pages_client.get("/")).text())
    assert (await pages_client.post("/sign-out", data={"csrf_token": token}, allow_redirects=False)).status == 303
    pages_client.session.cookie_jar.update_cookies(kept)  # a copy of the cookie kept from before (a stolen one)
    assert (await pages_client.get("/", allow_redirects=False)).status == 303

    await sign_in(pages_client)
    assert (await pages_client.get("/", allow_redirects=False)).status == 200
    await pages_client.app[keys.SIGN_INS].set_password("t1", hash_password("a brand new passphrase"), pages_client.app[keys.CLOCK]())
    assert (await pages_client.get("/", allow_redirects=False)).status == 303
