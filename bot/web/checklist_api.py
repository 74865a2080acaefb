"""The therapist's pre-call checklist: ticked on an appointment before the call, or on the session."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.core.appointments import Appointment
from bot.core.reminders import profile_for_meeting
from bot.core.settings import Therapist
from bot.core.summary import checklist_json
from bot.core.timefmt import to_iso

from . import keys
from .api import owned_session, therapist_for
from .errors import refuse

routes = web.RouteTableDef()


async def session_checklist(request: web.Request, therapist: Therapist | None = None) -> dict[str, Any]:
    """Return the checklist of the session in the path, if it is the caller's (or `therapist`'s)."""
    _, row = await owned_session(request, therapist)
    return (await request.app[keys.TRACKER].view(row)).summary["checklist"]


@routes.get("/api/sessions/{session_id}/checklist")
async def get_checklist(request: web.Request) -> web.Response:
    """Answer `{total, confirmed, items[{id, text, confirmed_at}]}`."""
    return web.json_response(await session_checklist(request))


@routes.post("/api/sessions/{session_id}/checklist/{item_id}")
async def tick_item(request: web.Request) -> web.Response:
    """Confirm one point; answer `{id, confirmed_at}` (the first confirmation's time if ticked before)."""
    checklist = await session_checklist(request)
    return await _ticked(request, request.match_info["session_id"], checklist)


async def tick(request: web.Request, subject_id: str, checklist: dict[str, Any]) -> str:
    """Confirm the point in the path on a session's or appointment's checklist; return when it was first confirmed."""
    item_id = request.match_info["item_id"]
    if item_id not in {item["id"] for item in checklist["items"]}:
        raise refuse(web.HTTPNotFound, "no such point on this checklist")
    return to_iso(await request.app[keys.TRACKER].ticks.tick(subject_id, item_id, request.app[keys.CLOCK]()))


async def _ticked(request: web.Request, subject_id: str, checklist: dict[str, Any]) -> web.Response:
    return web.json_response({"id": request.match_info["item_id"], "confirmed_at": await tick(request, subject_id, checklist)})


async def appointment_json(request: web.Request, appointment: Appointment) -> dict[str, Any]:
    """Return an appointment with its client's code and its checklist, tailored to that client and ticked so far."""
    tracker = request.app[keys.TRACKER]
    profile = profile_for_meeting(await tracker.clients.settings(), appointment.therapist_id, appointment.meeting_id)
    ticks = await tracker.ticks.ticks(appointment.id)
    items = tracker.checklist_points.items(profile, ticks, appointment.platform)
    return {
        "appointment_id": appointment.id,
        "platform": appointment.platform,
        "meeting_id": appointment.meeting_id,
        "start": to_iso(appointment.start),
        "minutes": appointment.minutes,
        "client_code": profile.code if profile else None,
        "checklist": checklist_json(items),
    }


async def owned_appointment(request: web.Request, therapist: Therapist | None = None) -> Appointment:
    """Return the appointment in the path if it is the caller's (or `therapist`'s); another's is a 404."""
    therapist = therapist or await therapist_for(request)
    book = request.app[keys.TRACKER].appointments
    appointment = await book.get(therapist.id, request.match_info["appointment_id"])
    if appointment is None:
        raise refuse(web.HTTPNotFound, "no such appointment")
    return appointment


@routes.get("/api/appointments")
async def list_appointments(request: web.Request) -> web.Response:
    """Answer the caller's upcoming appointments, soonest first, each with its tailored checklist."""
    therapist = await therapist_for(request)
    tracker = request.app[keys.TRACKER]
    found = await tracker.appointments.upcoming(therapist.id, request.app[keys.CLOCK]())
    return web.json_response([await appointment_json(request, a) for a in found])


@routes.get("/api/appointments/{appointment_id}/checklist")
async def get_appointment_checklist(request: web.Request) -> web.Response:
    """Answer an appointment's checklist, as ticked so far."""
    appointment = await owned_appointment(request)
    return web.json_response((await appointment_json(request, appointment))["checklist"])


@routes.post("/api/appointments/{appointment_id}/checklist/{item_id}")
async def tick_appointment_item(request: web.Request) -> web.Response:
    """Confirm one point before the call; the session that fulfils the appointment shows it confirmed."""
    appointment = await owned_appointment(request)
    checklist = (await appointment_json(request, appointment))["checklist"]
    return await _ticked(request, appointment.id, checklist)
