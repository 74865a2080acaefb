"""Who is asking: a therapist by bearer token (the API) or by the pages' sign-in cookie, with a CSRF token on every change."""
from __future__ import annotations

import hmac
import secrets
import warnings
from datetime import timedelta
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp.web_request import FileField
from aiohttp_session import Session, get_session, new_session, session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from multidict import MultiDictProxy

from bot.core.settings import Settings, Therapist

from . import keys
from .errors import refuse

# aiohttp-session keeps its own request keys as strings, which aiohttp warns of on every request.
warnings.filterwarnings("ignore", message="It is recommended to use web.RequestKey", module="aiohttp_session")
COOKIE_NAME = "companion_sign_in"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_THERAPIST, _CSRF, _SIGN_IN = "therapist", "csrf", "sign_in"


def sign_in_middleware(settings: Settings) -> Middleware | None:
    """Return the middleware that reads and writes the sign-in cookie, or None when no key is set (pages off)."""
    if not settings.server.session_key:
        return None
    storage = EncryptedCookieStorage(
        settings.server.session_key,
        cookie_name=COOKIE_NAME,
        max_age=settings.server.sign_in_hours * 3600,  # the cookie's lifetime, and checked again inside it
        httponly=True,
        samesite="Lax",
        secure=settings.server.public_url.startswith("https://"),
    )
    return session_middleware(storage)


def pages_on(request: web.Request) -> bool:
    """Return whether the pages can sign anybody in (a session key is set)."""
    return bool(request.app[keys.SETTINGS].server.session_key)


def require_pages(request: web.Request) -> None:
    """Answer 503 when the pages are off, saying what the operator must set."""
    if not pages_on(request):
        raise refuse(web.HTTPServiceUnavailable, "the pages are off: the operator has not set [server] session_key")


async def cookie_session(request: web.Request) -> Session | None:
    """Return the request's sign-in cookie session, or None when the pages are off."""
    return await get_session(request) if pages_on(request) else None


def csrf_token(session: Session) -> str:
    """Return the CSRF token tied to this cookie session, making one the first time."""
    if not isinstance(session.get(_CSRF), str):
        session[_CSRF] = secrets.token_urlsafe(32)
    return session[_CSRF]


def check_csrf(request: web.Request, session: Session, form_token: object = None) -> None:
    """Answer 403 unless the request carries this session's CSRF token (header or form field)."""
    sent = request.headers.get(CSRF_HEADER) or form_token
    own = session.get(_CSRF)
    if not (isinstance(sent, str) and isinstance(own, str) and sent.isascii() and hmac.compare_digest(sent.encode(), own.encode())):
        raise refuse(web.HTTPForbidden, "this request lacks the page's CSRF token: reload the page and try again")


async def read_form(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | FileField]:
    """Return the request's form, or answer 400 for a body that is not one (a broken multipart, bad bytes)."""
    try:
        return await request.post()
    except (ValueError, UnicodeDecodeError, AssertionError):
        raise refuse(web.HTTPBadRequest, "the request's body is not a form this page can read") from None


async def cookie_therapist(request: web.Request) -> Therapist | None:
    """Return the therapist the sign-in cookie names (its CSRF token checked on a change), or None."""
    session = await cookie_session(request)
    if session is None or not isinstance(session.get(_THERAPIST), str) or not isinstance(session.get(_SIGN_IN), str):
        return None
    therapist = request.app[keys.SETTINGS].therapist(session[_THERAPIST])
    if therapist is None or not await request.app[keys.SIGN_INS].active(session[_SIGN_IN], therapist.id):
        return None  # signed out (here or on another device), or a new password was set since
    if therapist is not None and request.method not in SAFE_METHODS:
        await check_change(request, session)
    return therapist


async def check_change(request: web.Request, session: Session) -> None:
    """Answer 403 unless a change carries the session's CSRF token: in a form field or in the header."""
    form_token = None
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form_token = (await read_form(request)).get(CSRF_FIELD)  # aiohttp keeps the form: the handler reads it again
    check_csrf(request, session, form_token)


async def sign_in(request: web.Request, therapist: Therapist) -> None:
    """Start a new cookie session for the therapist (a new CSRF token, nothing kept from before)."""
    settings = request.app[keys.SETTINGS]
    sign_in_id = await request.app[keys.SIGN_INS].start(therapist.id, request.app[keys.CLOCK](), timedelta(hours=settings.server.sign_in_hours))
    session = await new_session(request)
    session[_THERAPIST], session[_SIGN_IN] = therapist.id, sign_in_id
    csrf_token(session)


async def sign_out(request: web.Request) -> None:
    """End the sign-in on the server, and the cookie session in this browser."""
    session = await get_session(request)
    if isinstance(session.get(_SIGN_IN), str):
        await request.app[keys.SIGN_INS].end(session[_SIGN_IN], request.app[keys.CLOCK]())
    session.invalidate()


async def page_therapist(request: web.Request) -> Therapist:
    """Return the signed-in therapist, or send the browser to the sign-in page (and back here after)."""
    require_pages(request)
    therapist = await cookie_therapist(request)
    if therapist is None:
        back = request.rel_url.path if request.method in SAFE_METHODS else "/"
        raise web.HTTPSeeOther(f"/sign-in?next={quote(back, safe='/')}")
    return therapist
