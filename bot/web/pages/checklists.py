"""The checklist pages: an appointment's before the call, a session's during it; one tap ticks a point."""
from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.core.checklist import Checklist
from bot.core.settings import Therapist
from bot.core.timefmt import from_iso

from .. import keys
from ..checklist_api import appointment_json, owned_appointment, session_checklist, tick
from ..signed_in import page_therapist
from .rendering import page

routes = web.RouteTableDef()


def _groups(points: Checklist, checklist: dict[str, Any], zone: str) -> list[dict[str, Any]]:
    """Return the checklist's items grouped as in the checklist file, each with when it was ticked (local time)."""
    group_of = {p.id: p.group for p in points.points}
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in checklist["items"]:
        at = from_iso(item["confirmed_at"]).astimezone(ZoneInfo(zone)).strftime("at %H:%M on %d %b") if item["confirmed_at"] else None
        groups.setdefault(group_of.get(item["id"], "Other points"), []).append({"id": item["id"], "text": item["text"], "at": at})
    return [{"title": title, "points": points} for title, points in groups.items()]


async def _checklist_page(request: web.Request, therapist: Therapist, checklist: dict[str, Any], **context: Any) -> web.Response:
    points = request.app[keys.TRACKER].checklist_points
    return await page(
        request, "checklist.html", therapist, groups=_groups(points, checklist, therapist.timezone),
        total=checklist["total"], confirmed=checklist["confirmed"], **{"client_choice": None, **context},
    )


@routes.get("/appointments/{appointment_id}/checklist")
async def appointment_page(request: web.Request) -> web.Response:
    therapist = await page_therapist(request)
    appointment = await owned_appointment(request, therapist)
    shown = await appointment_json(request, appointment)
    start = appointment.start.astimezone(ZoneInfo(therapist.timezone)).strftime("%A %d %B, %H:%M")
    client = shown["client_code"] or "a client not known yet"
    base = f"/appointments/{appointment.id}/checklist"
    codes = [c.code for c in (await request.app[keys.TRACKER].clients.settings()).clients if c.therapist == therapist.id]
    choice = {"action": f"/appointments/{appointment.id}/client", "codes": codes, "current": shown["client_code"]}
    return await _checklist_page(
        request, therapist, shown["checklist"], heading=f"Appointment with {client}, {start} ({appointment.minutes} min).",
        back={"href": "/", "text": "Back to the start page"}, tick_base=base, api_base=f"/api{base}", client_choice=choice,
    )


@routes.post("/appointments/{appointment_id}/checklist/{item_id}")
async def appointment_tick(request: web.Request) -> web.Response:
    therapist = await page_therapist(request)
    appointment = await owned_appointment(request, therapist)
    await tick(request, appointment.id, (await appointment_json(request, appointment))["checklist"])
    raise web.HTTPSeeOther(f"/appointments/{appointment.id}/checklist")


@routes.get("/sessions/{session_id}/checklist")
async def session_page(request: web.Request) -> web.Response:
    therapist = await page_therapist(request)
    checklist = await session_checklist(request, therapist)
    session_id = request.match_info["session_id"]
    base = f"/sessions/{session_id}/checklist"
    return await _checklist_page(
        request, therapist, checklist, heading="For the session now.",
        back={"href": f"/sessions/{session_id}", "text": "Back to the live session"}, tick_base=base, api_base=f"/api{base}",
    )


@routes.post("/sessions/{session_id}/checklist/{item_id}")
async def session_tick(request: web.Request) -> web.Response:
    therapist = await page_therapist(request)
    session_id = request.match_info["session_id"]
    await tick(request, session_id, await session_checklist(request, therapist))
    raise web.HTTPSeeOther(f"/sessions/{session_id}/checklist")
