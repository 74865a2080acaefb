"""The therapist's own words in the record: notes (answering a prompt or not) and changes marked by hand."""
from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from bot.core.changes import framing_change_id
from bot.core.events import FRAMING_CHANGES, FramingChanged
from bot.core.timefmt import to_iso

from . import keys
from .api import owned_session
from .errors import refuse, storable

MAX_NOTE_CHARS = 4000
MAX_DETAIL_CHARS = 200
MAX_PROMPT_ID_DIGITS = 10  # notice ids are 32-bit integers
routes = web.RouteTableDef()


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        body = None
    return body if isinstance(body, dict) else {}


def _prompt_number(prompt_id: Any) -> int | None:
    """Return a prompt id sent as a number or as its digits, or None if it cannot be one."""
    if isinstance(prompt_id, int) and not isinstance(prompt_id, bool):
        prompt_id = str(prompt_id)
    if isinstance(prompt_id, str) and prompt_id.isascii() and prompt_id.isdigit() and len(prompt_id) <= MAX_PROMPT_ID_DIGITS:
        return int(prompt_id)
    return None


@routes.post("/api/sessions/{session_id}/notes")
async def add_note(request: web.Request) -> web.Response:
    therapist, row = await owned_session(request)
    body = await _json_object(request)
    text, prompt_id = body.get("text"), body.get("prompt_id")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTE_CHARS or not storable(text):
        raise refuse(web.HTTPBadRequest, f"text must be 1 to {MAX_NOTE_CHARS} characters of text (no NUL, no lone surrogate)")
    store = request.app[keys.STORE]
    if prompt_id is not None:
        # A note answers a prompt of this session, or none: a stray id would pin it to nothing in the record.
        number = _prompt_number(prompt_id)
        if number is None or number not in (await store.prompt_ids(therapist.id, row.id)).values():
            raise refuse(web.HTTPBadRequest, "prompt_id must be the id of a note_prompt notice of this session")
        prompt_id = str(number)
    now = request.app[keys.CLOCK]()
    note_id = await store.add_note(row.id, now, text.strip(), prompt_id)
    return web.json_response({"id": note_id, "at": to_iso(now)}, status=201)


@routes.post("/api/sessions/{session_id}/changes")
async def mark_change(request: web.Request) -> web.Response:
    _, row = await owned_session(request)
    body = await _json_object(request)
    kind, detail = body.get("kind"), body.get("detail", "")
    if kind not in FRAMING_CHANGES:
        raise refuse(web.HTTPBadRequest, f"kind must be one of {', '.join(FRAMING_CHANGES)}")
    if detail is None:
        detail = ""
    if not isinstance(detail, str) or len(detail) > MAX_DETAIL_CHARS or not storable(detail):
        raise refuse(web.HTTPBadRequest, f"detail must be at most {MAX_DETAIL_CHARS} characters of text (no NUL, no lone surrogate)")
    now = request.app[keys.CLOCK]()
    event = FramingChanged(meeting=row.meeting, at=now, change=kind, detail=detail.strip(), source="therapist")
    # Each request is a mark of its own: a second identical mark may be a second real change, and
    # nothing in the request tells a retry from it, so no key made of its content would be sound.
    await request.app[keys.TRACKER].record(row.meeting, [(f"change:{uuid.uuid4().hex}", event)])
    request.app[keys.EVALUATION].submit(row.id)  # the prompt follows, on the notice stream
    return web.json_response({"id": framing_change_id(event), "at": to_iso(now), "kind": kind, "detail": event.detail, "source": "therapist"}, status=201)
