"""The therapist's JSON API: every answer is scoped, in this module alone, to the caller's sessions."""
from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from bot.core.listing import listed, listing_json
from bot.core.render import RENDERERS
from bot.core.settings import Therapist
from bot.core.timefmt import from_iso, to_iso
from bot.storage.notices import NoticeRow
from bot.storage.store import SessionRow
from bot.tracking.session_listing import UNREADABLE_REASON, SessionListing, identity, judged, unreadable
from bot.tracking.tracker import SessionView

from . import keys
from .errors import refuse
from .signed_in import cookie_therapist

DEFAULT_LISTING, MAX_LISTING = 50, 200
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


def _listing(row: SessionRow, view: SessionView | None) -> dict[str, Any]:
    if view is None:
        return unreadable(row)
    return listing_json(identity(row), listed(view.state, view.client_code))


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
