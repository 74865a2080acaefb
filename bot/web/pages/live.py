"""The live session page: who is present, the client's camera, alerts and note prompts as they arrive, and notes."""
from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.core.prompts import NOTE_PROMPT
from bot.core.pseudonyms import client_label
from bot.core.settings import Therapist
from bot.core.timefmt import from_iso
from bot.tracking.session_listing import UNREADABLE_REASON, judged

from .. import keys
from ..api import owned_session
from ..errors import refuse
from ..signed_in import page_therapist
from .labels import present
from .rendering import page

REMINDERS = frozenset({"checklist_reminder", "start_reminder"})  # about the call before it, not what happens in it
routes = web.RouteTableDef()


def live_state(summary: dict[str, Any]) -> dict[str, Any]:
    """Return what the live page shows of a session now: who is present and the client's camera."""
    off = summary["client_video"]["off_intervals"]
    camera_off_since = off[-1]["start"] if off and off[-1]["end"] is None and summary["ended_at"] is None else None
    return {
        "status": summary["status"],
        "present": present(summary),
        "camera_off_since": camera_off_since,
        "off_count": summary["client_video"]["off_count"],
    }


async def owned_summary(request: web.Request, names: bool = False) -> tuple[Therapist, dict[str, Any]]:
    """Return the signed-in therapist and the summary (so far) of their session in the path (`names`: see build_summary)."""
    therapist = await page_therapist(request)
    _, row = await owned_session(request, therapist)
    view = await judged(request.app[keys.TRACKER], row, names)
    if view is None:
        raise refuse(web.HTTPConflict, UNREADABLE_REASON)
    return therapist, view.summary


@routes.get("/sessions/{session_id}/live.json")
async def live_json(request: web.Request) -> web.Response:
    _, summary = await owned_summary(request, request.app[keys.SETTINGS].privacy.show_names)
    return web.json_response(live_state(summary))


@routes.get("/sessions/{session_id}")
async def live_page(request: web.Request) -> web.Response:
    therapist, summary = await owned_summary(request, request.app[keys.SETTINGS].privacy.show_names)
    zone = ZoneInfo(therapist.timezone)
    clock = lambda text: from_iso(text).astimezone(zone).strftime("%H:%M")  # noqa: E731
    notices = await request.app[keys.STORE].notices(therapist.id, summary["session_id"])  # newest first
    answered = {n["prompt_id"] for n in summary["notes"] if n["prompt_id"]}
    prompts = [{"id": n.id, "at": clock(n.at), "message": n.message, "answered": str(n.id) in answered} for n in notices if n.kind == NOTE_PROMPT]
    alerts = [{"kind": n.kind, "at": clock(n.at), "message": n.message} for n in notices if n.kind != NOTE_PROMPT and n.kind not in REMINDERS]
    state = live_state(summary)
    ended = summary["status"] == "ended"
    camera_text = "Call ended" if ended else "Off" if state["camera_off_since"] else ("On" if summary["started_at"] else "Not started")
    status_text = "Ended" if ended else "In progress"
    return await page(
        request, "live.html", therapist,
        session_id=summary["session_id"], zone=therapist.timezone, client=client_label(summary), status_text=status_text, ended=ended,
        last_notice_id=max((n.id for n in notices), default=0), camera_off_since=state["camera_off_since"],
        camera_text=camera_text, off_count=state["off_count"], present=state["present"], prompts=prompts, alerts=alerts,
        notes=[{"at": clock(n["at"]), "text": n["text"]} for n in reversed(summary["notes"])],
    )
