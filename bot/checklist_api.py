"""The therapist's checklist for a session: the points tailored to the client, and ticking them."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from . import keys
from .api import owned_session
from .timefmt import to_iso

routes = web.RouteTableDef()


async def _checklist(request: web.Request) -> dict[str, Any]:
    _, row = await owned_session(request)
    return (await request.app[keys.TRACKER].view(row)).summary["checklist"]


@routes.get("/api/sessions/{session_id}/checklist")
async def get_checklist(request: web.Request) -> web.Response:
    """Answer `{total, confirmed, items[{id, text, confirmed_at}]}`."""
    return web.json_response(await _checklist(request))


@routes.post("/api/sessions/{session_id}/checklist/{item_id}")
async def tick_item(request: web.Request) -> web.Response:
    """Confirm one point; answer `{id, confirmed_at}` (the first confirmation's time if ticked before)."""
    checklist = await _checklist(request)
    item_id = request.match_info["item_id"]
    if item_id not in {item["id"] for item in checklist["items"]}:
        raise web.HTTPNotFound(
            text='{"error": "not_found", "reason": "no such point on this session\'s checklist"}', content_type="application/json"
        )
    tracker = request.app[keys.TRACKER]
    at = await tracker.ticks.tick(request.match_info["session_id"], item_id, request.app[keys.CLOCK]())
    return web.json_response({"id": item_id, "confirmed_at": to_iso(at)})
