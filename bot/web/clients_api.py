"""The therapist's clients: profiles kept in the database beside the settings file's, and which client an appointment is."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.core.client_form import client_from_form, normal_code, vocabulary
from bot.core.clients import email_digests, name_digests
from bot.core.settings import DATABASE, ClientProfile, Therapist
from bot.core.text import storable
from bot.storage.client_profiles import ClientTaken, NoSuchClient
from bot.tracking.client_book import ClientBook, ClientConflict

from . import keys
from .api import therapist_for
from .checklist_api import appointment_json, owned_appointment
from .errors import refuse

MAX_CODE_CHARS = 255  # a settings-file code is as the operator wrote it; the database holds one this long
routes = web.RouteTableDef()


def client_json(profile: ClientProfile, key: str) -> dict[str, Any]:
    """Return a profile as the API shows it: how many emails and names it recognises, never which."""
    return {
        "code": profile.code,
        "mode": profile.mode,
        "flags": list(profile.flags),
        "meeting_ids": list(profile.meeting_ids),
        "email_count": len(email_digests(profile, key)),
        "display_name_count": len(name_digests([profile], key)),
        "source": profile.source,
    }


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        body = None
    if not isinstance(body, dict):
        raise refuse(web.HTTPBadRequest, "the body must be a JSON object")
    return body


def _book(request: web.Request) -> ClientBook:
    return request.app[keys.TRACKER].clients


async def _database_client(request: web.Request, therapist: Therapist) -> ClientProfile:
    """Return the database profile in the path; a settings-file profile is a 409, none (or another's) a 404."""
    book, code = _book(request), request.match_info["code"]
    if book.in_settings_file(therapist.id, code):
        raise refuse(web.HTTPConflict, f"client {code} is kept in the settings file and can be changed only there")
    profile = await book.profile(therapist.id, normal_code(code) or "")
    if profile is None or profile.source != DATABASE:
        raise refuse(web.HTTPNotFound, "no such client")
    return profile


async def save_client(request: web.Request, therapist: Therapist, current: ClientProfile | None, form: dict[str, Any] | None = None) -> ClientProfile:
    """Keep a new client, or change `current`, from the request's JSON body (or `form`); a refusal says why."""
    words = vocabulary(request.app[keys.TRACKER].checklist_points)
    key = request.app[keys.SETTINGS].privacy.data_key
    profile = client_from_form(form if form is not None else await _body(request), words, therapist.id, key, current)
    if isinstance(profile, list):
        raise refuse(web.HTTPBadRequest, "; ".join(profile))
    book = _book(request)
    try:
        await (book.add(profile) if current is None else book.change(profile))
    except ClientTaken:
        raise refuse(web.HTTPConflict, f"you already have a client {profile.code}") from None
    except NoSuchClient:
        raise refuse(web.HTTPNotFound, "no such client") from None
    except ClientConflict as conflict:
        raise refuse(web.HTTPConflict, conflict.reason) from None
    return await book.profile(therapist.id, profile.code) or profile


@routes.get("/api/clients/vocabulary")
async def get_vocabulary(request: web.Request) -> web.Response:
    """Answer `{modes, flags}`: the words a profile may use (the flags the checklist's points ask about)."""
    await therapist_for(request)
    words = vocabulary(request.app[keys.TRACKER].checklist_points)
    return web.json_response({"modes": list(words.modes), "flags": list(words.flags)})


@routes.get("/api/clients")
async def list_clients(request: web.Request) -> web.Response:
    """Answer the caller's clients, the settings file's first, each with its `source`."""
    therapist = await therapist_for(request)
    clients, key = (await _book(request).settings()).clients, request.app[keys.SETTINGS].privacy.data_key
    return web.json_response([client_json(c, key) for c in clients if c.therapist == therapist.id])


@routes.post("/api/clients")
async def add_client(request: web.Request) -> web.Response:
    """Keep a new client `{code, mode, flags, meeting_ids?, emails?, display_names?}`; answer 201 with it."""
    therapist = await therapist_for(request)
    key = request.app[keys.SETTINGS].privacy.data_key
    return web.json_response(client_json(await save_client(request, therapist, None), key), status=201)


@routes.put("/api/clients/{code}")
async def change_client(request: web.Request) -> web.Response:
    """Change a database client; the fields left out keep their values."""
    therapist = await therapist_for(request)
    current = await _database_client(request, therapist)
    key = request.app[keys.SETTINGS].privacy.data_key
    return web.json_response(client_json(await save_client(request, therapist, current), key))


@routes.delete("/api/clients/{code}")
async def remove_client(request: web.Request) -> web.Response:
    """Forget a database client; the sessions it named keep its code."""
    therapist = await therapist_for(request)
    profile = await _database_client(request, therapist)
    try:
        await _book(request).remove(therapist.id, profile.code)
    except NoSuchClient:  # removed meanwhile, by another request or instance
        raise refuse(web.HTTPNotFound, "no such client") from None
    return web.Response(status=204)


@routes.put("/api/appointments/{appointment_id}/client")
async def say_which_client(request: web.Request) -> web.Response:
    """Say which client `{code}` an appointment is (`null`: none); answer the appointment, tailored to them.

    The appointment's meeting becomes that client's: its later occurrences and the session that
    fulfils it follow, and `moved_from` names the client the meeting named before, if another.
    """
    appointment = await owned_appointment(request)
    code = (await _body(request)).get("code")
    if code is not None and not (isinstance(code, str) and len(code) <= MAX_CODE_CHARS and storable(code)):
        raise refuse(web.HTTPBadRequest, "code must be one of your clients' codes, or null")
    book = _book(request)
    if code is not None and await book.profile(appointment.therapist_id, code) is None:
        code = normal_code(code) or code
    try:
        moved_from = await book.assign(appointment.therapist_id, appointment.meeting_id, code)
    except NoSuchClient:
        raise refuse(web.HTTPNotFound, "no such client") from None
    except ClientConflict as conflict:
        raise refuse(web.HTTPConflict, conflict.reason) from None
    return web.json_response({**await appointment_json(request, appointment), "moved_from": moved_from})
