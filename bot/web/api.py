"""The therapist's JSON API: every answer is scoped, in this module alone, to the caller's sessions."""
from __future__ import annotations

import hmac
import logging
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.core.listing import SessionIdentity, listed, listing_json, profiles_mark
from bot.core.render import RENDERERS
from bot.core.settings import Therapist
from bot.core.timefmt import from_iso, to_iso
from bot.storage.notices import NoticeRow
from bot.storage.session_list import SessionList
from bot.storage.store import SessionRow
from bot.tracking.tracker import SessionTracker, SessionView

from . import keys
from .errors import refuse
from .signed_in import cookie_therapist

_LOGGER = logging.getLogger(__name__)
DEFAULT_LISTING, MAX_LISTING = 50, 200
UNREADABLE = "unreadable"
UNREADABLE_REASON = "this session's stored events cannot be judged; its other data and other sessions are kept"
routes = web.RouteTableDef()


async def therapist_for(request: web.Request) -> Therapist:
    """Return the therapist whose bearer token the request carries, or who is signed in to the pages; else answer 401.

    A change made with the sign-in cookie must carry the page's CSRF token (else 403). A token is never
    taken from the URL: the notice stream takes a single-use ticket there instead (bot/web/stream.py).
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token and token.isascii():  # header bytes that are not UTF-8 arrive as surrogates
        for therapist in request.app[keys.SETTINGS].therapists:
            if hmac.compare_digest(therapist.api_token.encode(), token.strip().encode()):
                return therapist
    elif not header and (signed_in := await cookie_therapist(request)) is not None:
        return signed_in
    raise refuse(web.HTTPUnauthorized, "a valid bearer token is required", **{"WWW-Authenticate": "Bearer"})


async def owned_session(request: web.Request, therapist: Therapist | None = None) -> tuple[Therapist, SessionRow]:
    """Return the caller (or `therapist`, already known) and the session in the path; another therapist's session is a 404."""
    therapist = therapist or await therapist_for(request)
    row = await request.app[keys.STORE].session(request.match_info["session_id"], therapist.id)
    if row is None:
        raise refuse(web.HTTPNotFound, "no such session")
    return therapist, row


async def judged(tracker: SessionTracker, row: SessionRow, names: bool = False, now: datetime | None = None) -> SessionView | None:
    """Return the session judged now (or at `now`), or None if its stored rows cannot be judged (logged by id only)."""
    try:
        return await tracker.view(row, now, names=names)
    except Exception as err:  # one session that cannot be judged must not hide the others
        _LOGGER.error("session %s cannot be judged (%s)", row.id, type(err).__name__)
        return None


def _listing(row: SessionRow, view: SessionView | None) -> dict[str, Any]:
    if view is None:
        return _unreadable(row)
    return listing_json(_identity(row), listed(view.state, view.client_code))


def _unreadable(row: SessionRow) -> dict[str, Any]:
    return {"session_id": row.id, "platform": row.platform, "status": UNREADABLE, "reason": UNREADABLE_REASON}


def _identity(row: SessionRow) -> SessionIdentity:
    return SessionIdentity(row.id, row.platform, row.meeting_id, row.occurrence_id)


class SessionListing:
    """The session list from the rows kept at each judging; a session without a usable row is judged now, and kept."""

    def __init__(self, tracker: SessionTracker) -> None:
        self._tracker = tracker
        self._rows = SessionList(tracker.store.engine)

    async def keep(self, view: SessionView, now: datetime) -> None:
        """Keep the session's entry as just judged (the tracker calls it after every evaluation)."""
        # The view does not say which profiles it was judged under: those in force now are taken (a profile changed
        # during this very evaluation leaves the entry as judged until the session's next evaluation).
        settings = await self._tracker.clients.settings()
        entry = listed(view.state, view.client_code)
        await self._rows.keep(view.row, entry, profiles_mark(settings, view.row.therapist_id), now)

    async def listing(self, therapist_id: str, platform: str | None, occurrence_id: str | None, limit: int) -> list[dict[str, Any]]:
        """Return the therapist's sessions as `GET /api/sessions` lists them, newest first."""
        # The mark is taken before any judging: an entry judged now is never kept under a newer profile's mark.
        mark = profiles_mark(await self._tracker.clients.settings(), therapist_id)
        answer = []
        for found in await self._rows.rows(therapist_id, platform, occurrence_id, limit):
            entry = found.entry if found.profiles == mark else None
            if entry is None:  # stored before this version, not judged yet, judged under other profiles, or unreadable
                now = self._tracker.clock()
                view = await judged(self._tracker, found.session, now=now)
                if view is None:
                    answer.append(_unreadable(found.session))
                    continue
                entry = listed(view.state, view.client_code)
                await self._rows.keep(found.session, entry, mark, now)
            answer.append(listing_json(_identity(found.session), entry))
        return answer


@routes.get("/api/sessions")
async def list_sessions(request: web.Request) -> web.Response:
    therapist = await therapist_for(request)
    platform = request.query.get("platform")
    limit = request.query.get("limit", str(DEFAULT_LISTING))
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 3) or not 1 <= int(limit) <= MAX_LISTING:
        raise refuse(web.HTTPBadRequest, f"limit must be a whole number from 1 to {MAX_LISTING}")
    # The rows kept at each judging, not the events: a session is judged here only when its row is missing or stale.
    listing = SessionListing(request.app[keys.TRACKER])
    return web.json_response(await listing.listing(therapist.id, platform, request.query.get("meeting_uuid"), int(limit)))


@routes.get("/api/sessions/{session_id}")
async def get_session(request: web.Request) -> web.Response:
    _, row = await owned_session(request)
    view = await judged(request.app[keys.TRACKER], row, request.app[keys.SETTINGS].privacy.show_names)
    detail = _listing(row, view)
    if view is None:
        return web.json_response(detail)
    detail.update(participants=view.summary["participants"], client_video=view.summary["client_video"])
    detail["frames"] = request.app[keys.FRAMES].session_json(row.id)
    return web.json_response(detail)


@routes.get("/api/sessions/{session_id}/summary")
async def get_summary(request: web.Request) -> web.Response:
    therapist, row = await owned_session(request)
    fmt = request.query.get("format", "json")
    # The JSON is the therapist's own screen: names if they opted in. A Markdown or HTML document is
    # an export, for the record and for supervision: never names.
    view = await judged(request.app[keys.TRACKER], row, fmt == "json" and request.app[keys.SETTINGS].privacy.show_names)
    if view is None:
        raise refuse(web.HTTPConflict, UNREADABLE_REASON)
    summary = view.summary
    if fmt == "json":
        return web.json_response(summary)
    if fmt not in RENDERERS:
        raise refuse(web.HTTPBadRequest, "format must be json, md or html")
    content_type = "text/markdown" if fmt == "md" else "text/html"
    return web.Response(text=RENDERERS[fmt](summary, therapist.timezone), content_type=content_type)


def notice_json(row: NoticeRow, delivery: dict[str, str]) -> dict[str, Any]:
    """Return a notice as the API and the notice stream show it, with its state on each channel."""
    return {
        "id": row.id,
        "kind": row.kind,
        "session_id": row.session_id,
        "at": to_iso(from_iso(row.at)),
        "message": row.message,
        # The dashboard has no worker: its "sent" means written to one of the therapist's open streams.
        "delivery": {c: "delivered" if c == "dashboard" and s == "sent" else s for c, s in sorted(delivery.items())},
    }


@routes.get("/api/notices")
async def list_notices(request: web.Request) -> web.Response:
    therapist = await therapist_for(request)
    rows = await request.app[keys.STORE].notices(therapist.id, request.query.get("session_id"), request.query.get("kind"))
    states = await request.app[keys.OUTBOX].states(row.id for row in rows)
    return web.json_response([notice_json(row, states[row.id]) for row in rows])
