"""Sign in to the pages with a password (a lock-out after repeated wrong ones), and sign out."""
from __future__ import annotations

import logging
from datetime import datetime

from aiohttp import web

from bot.core.lockout import LOCK_AFTER_FAILURES
from bot.core.timefmt import clock_text

from .. import keys
from ..errors import storable
from ..passwords import password_matches
from ..signed_in import (
    check_csrf,
    cookie_session,
    page_therapist,
    read_form,
    require_pages,
    sign_in,
    sign_out,
)
from .rendering import page

_LOGGER = logging.getLogger(__name__)
MAX_ACCOUNT_CHARS = 64
routes = web.RouteTableDef()


def _next_page(value: object) -> str:
    """Return where to go after signing in: a path of this service only (never another site)."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")) and storable(value) and len(value) < 200:
        return value
    return "/"


async def _form_page(request: web.Request, status: int = 200, problem: str = "", account: str = "", next_page: str = "/") -> web.Response:
    return await page(request, "sign_in.html", None, status=status, problem=problem, account=account, next=next_page)


@routes.get("/sign-in")
async def sign_in_form(request: web.Request) -> web.Response:
    require_pages(request)
    return await _form_page(request, next_page=_next_page(request.query.get("next")))


@routes.post("/sign-in")
async def sign_in_post(request: web.Request) -> web.Response:
    require_pages(request)
    session = await cookie_session(request)
    assert session is not None  # the pages are on
    form = await read_form(request)
    check_csrf(request, session, form.get("csrf_token"))
    account, password, next_page = form.get("account"), form.get("password"), _next_page(form.get("next"))
    if not isinstance(account, str) or not isinstance(password, str) or not account.strip() or len(account) > MAX_ACCOUNT_CHARS:
        return await _form_page(request, 400, "Enter your therapist id and your password.", next_page=next_page)
    account = account.strip()
    settings, records, now = request.app[keys.SETTINGS], request.app[keys.SIGN_INS], request.app[keys.CLOCK]()
    therapist = settings.therapist(account)
    if therapist is not None and (until := await records.locked_until(therapist.id, now)) is not None:
        return await _locked(request, until, therapist.timezone, account, next_page)
    stored = await records.password_hash(therapist.id) if therapist is not None else None
    if not await password_matches(stored, password) or therapist is None:
        # An unknown id costs the same check and reads the same: the page does not say which ids exist.
        if therapist is not None and (until := await records.failed(therapist.id, now)) is not None:
            return await _locked(request, until, therapist.timezone, account, next_page)
        _LOGGER.info("a sign-in to the pages failed")
        return await _form_page(request, 401, "That id and password do not match.", account, next_page)
    await records.succeeded(therapist.id)
    await sign_in(request, therapist)
    _LOGGER.info("therapist %s signed in to the pages", therapist.id)
    raise web.HTTPSeeOther(next_page)


async def _locked(request: web.Request, until: datetime, zone: str, account: str, next_page: str) -> web.Response:
    problem = (
        f"This account is locked after {LOCK_AFTER_FAILURES} wrong passwords in a row. "
        f"Try again after {clock_text(until, zone)} ({zone}), or ask the operator to set a new password."
    )
    response = await _form_page(request, 429, problem, account, next_page)
    response.headers["Retry-After"] = str(max(1, int((until - request.app[keys.CLOCK]()).total_seconds())))
    return response


@routes.post("/sign-out")
async def sign_out_post(request: web.Request) -> web.Response:
    therapist = await page_therapist(request)  # the form's CSRF token is checked here
    await sign_out(request)
    _LOGGER.info("therapist %s signed out of the pages", therapist.id)
    raise web.HTTPSeeOther("/sign-in")
