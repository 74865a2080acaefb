"""The therapist's start page: today's and tomorrow's appointments with their checklists, live and recent sessions."""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.core.pseudonyms import client_label
from bot.core.timefmt import from_iso, local_text
from bot.tracking.session_listing import judged

from .. import keys
from ..checklist_api import appointment_json
from ..signed_in import page_therapist
from .rendering import page

RECENT_SESSIONS = 20
routes = web.RouteTableDef()


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    therapist = await page_therapist(request)
    now = request.app[keys.CLOCK]()
    zone = ZoneInfo(therapist.timezone)
    today = now.astimezone(zone).date()
    days: list[dict[str, Any]] = [{"title": "Today", "date": today, "appointments": []}, {"title": "Tomorrow", "date": today + timedelta(days=1), "appointments": []}]
    for appointment in await request.app[keys.TRACKER].appointments.upcoming(therapist.id, now):
        local = appointment.start.astimezone(zone)
        day = next((d for d in days if d["date"] == local.date()), None)
        if day is None:
            continue
        shown = await appointment_json(request, appointment)
        day["appointments"].append(
            {
                "id": appointment.id,
                "time": local.strftime("%H:%M"),
                "client": shown["client_code"] or "client not known yet",
                "minutes": appointment.minutes,
                "total": shown["checklist"]["total"],
                "confirmed": shown["checklist"]["confirmed"],
            }
        )
    live: list[dict[str, Any]] = []
    recent: list[dict[str, Any]] = []
    for row in await request.app[keys.STORE].sessions(therapist.id, limit=RECENT_SESSIONS):
        view = await judged(request.app[keys.TRACKER], row)
        if view is None:
            recent.append({"session_id": row.id, "client": "a session", "started": local_text(from_iso(row.created_at), therapist.timezone), "unreadable": True})
            continue
        summary = view.summary
        started = local_text(from_iso(summary["started_at"]), therapist.timezone) if summary["started_at"] else "not started"
        entry = {"session_id": row.id, "client": client_label(summary), "started": started, "unreadable": False}
        (live if summary["status"] == "in_progress" else recent).append(entry)
    return await page(request, "home.html", therapist, days=days, live=live, recent=recent)
