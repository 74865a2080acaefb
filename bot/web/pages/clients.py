"""The clients page: the therapist's pseudonymous client profiles, added and removed here; and which client an appointment is."""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.core.client_form import vocabulary
from bot.core.settings import DATABASE
from bot.storage.client_profiles import NoSuchClient
from bot.tracking.client_book import ClientConflict

from .. import keys
from ..checklist_api import owned_appointment
from ..clients_api import client_json, save_client
from ..errors import refuse
from ..signed_in import page_therapist, read_form
from .rendering import page

routes = web.RouteTableDef()


async def _clients_page(request: web.Request, therapist: Any, status: int = 200, problem: str = "", form: dict[str, Any] | None = None) -> web.Response:
    key = request.app[keys.SETTINGS].privacy.data_key
    clients = [client_json(c, key) for c in (await request.app[keys.TRACKER].clients.settings()).clients if c.therapist == therapist.id]
    words = vocabulary(request.app[keys.TRACKER].checklist_points)
    shown = form or {"code": "", "mode": "online", "flags": [], "meeting_ids": ""}
    return await page(request, "clients.html", therapist, status=status, clients=clients, vocabulary=words, problem=problem, form=shown)


@routes.get("/clients")
async def clients_page(request: web.Request) -> web.Response:
    return await _clients_page(request, await page_therapist(request))


@routes.post("/clients")
async def add_client(request: web.Request) -> web.Response:
    therapist = await page_therapist(request)
    posted = await read_form(request)
    form = {
        "code": str(posted.get("code", "")),
        "mode": str(posted.get("mode", "")),
        "flags": [str(f) for f in posted.getall("flags", [])],
        "meeting_ids": str(posted.get("meeting_ids", "")),
    }
    try:
        await save_client(request, therapist, None, form)
    except web.HTTPException as refused:
        reason = json.loads(refused.text or "{}").get("reason", "")
        return await _clients_page(request, therapist, refused.status, reason[:1].upper() + reason[1:] + ".", form)
    raise web.HTTPSeeOther("/clients")


@routes.post("/clients/{code}/delete")
async def remove_client(request: web.Request) -> web.Response:
    therapist = await page_therapist(request)
    book = request.app[keys.TRACKER].clients
    profile = await book.profile(therapist.id, request.match_info["code"])
    if profile is None or profile.source != DATABASE:
        raise refuse(web.HTTPNotFound, "no such client kept here (a settings-file client is changed in that file)")
    await book.remove(therapist.id, profile.code)
    raise web.HTTPSeeOther("/clients")


@routes.post("/appointments/{appointment_id}/client")
async def say_which_client(request: web.Request) -> web.Response:
    therapist = await page_therapist(request)
    appointment = await owned_appointment(request, therapist)
    code = (await read_form(request)).get("code")
    book = request.app[keys.TRACKER].clients
    if not isinstance(code, str) or await book.profile(therapist.id, code) is None:
        raise refuse(web.HTTPBadRequest, "choose one of your clients")
    try:
        await book.assign(therapist.id, appointment.meeting_id, code)
    except ClientConflict as conflict:
        raise refuse(web.HTTPConflict, conflict.reason) from None
    except NoSuchClient:  # removed meanwhile
        raise refuse(web.HTTPNotFound, "no such client") from None
    raise web.HTTPSeeOther(f"/appointments/{appointment.id}/checklist")
