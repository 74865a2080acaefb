"""The therapist's live notice stream (Server-Sent Events): scoped, resumable, and kept alive."""
from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.core.settings import Therapist
from bot.core.timefmt import to_iso
from bot.storage.notices import NoticeRow
from bot.tracking.notice_board import DeliveryUpdate, Published, SessionChanged

from . import keys
from .api import notice_json, therapist_for
from .errors import refuse

_LOGGER = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 15.0  # below the idle timeouts of common proxies
MAX_NOTICE_ID = 2**31 - 1  # the id column is 32-bit on PostgreSQL: a larger id can only fail the query
STREAM_PATH = "/api/notices/stream"
BURST_MAX = 256  # items written in one go: what waited while the last went out, a burst of notices and their deliveries
TICKET_LIFETIME = timedelta(seconds=60)
REPLAY_ROWS = 500  # notices read at once while replaying: a long gap is read in parts, all of it
routes = web.RouteTableDef()


def event(data: dict[str, Any], name: str, event_id: int | None = None) -> bytes:
    """Return one Server-Sent Event."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _resume_from(request: web.Request) -> int | None:
    value = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    if value is None:
        return None
    digits = value.strip()
    # ASCII digits only: str.isdigit() also accepts '²', which int() refuses; and a bound before
    # the database sees it, since the stream has already answered 200 when the query runs.
    if not (digits.isascii() and digits.isdigit()) or len(digits) > len(str(MAX_NOTICE_ID)) or int(digits) > MAX_NOTICE_ID:
        raise refuse(web.HTTPBadRequest, f"Last-Event-ID must be a notice id: a whole number from 0 to {MAX_NOTICE_ID}")
    return int(digits)


@routes.post("/api/stream-tickets")
async def new_stream_ticket(request: web.Request) -> web.Response:
    """Handle `POST /api/stream-tickets`: a ticket that opens the caller's notice stream once, within a minute."""
    therapist = await therapist_for(request)  # a bearer token, or the sign-in cookie with the page's CSRF token
    ticket, expires = await request.app[keys.STREAM_TICKETS].issue(therapist.id, request.app[keys.CLOCK](), TICKET_LIFETIME)
    return web.json_response({"ticket": ticket, "expires_at": to_iso(expires)}, status=201, headers={"Cache-Control": "no-store"})


async def _stream_therapist(request: web.Request) -> Therapist:
    """Return whose stream this is: a ticket's therapist (the ticket is used up), else the bearer token's or the cookie's."""
    if "ticket" in request.query:
        therapist_id = await request.app[keys.STREAM_TICKETS].redeem(request.query["ticket"], request.app[keys.CLOCK]())
        therapist = request.app[keys.SETTINGS].therapist(therapist_id) if therapist_id else None
        if therapist is None:
            raise refuse(web.HTTPUnauthorized, "this stream ticket is unknown, used or expired: POST /api/stream-tickets for a new one")
        return therapist
    if "access_token" in request.query:
        raise refuse(web.HTTPUnauthorized, "a token in the URL is not accepted: POST /api/stream-tickets and open the stream with ?ticket=")
    return await therapist_for(request)


def _count_stream(request: web.Request, therapist: Therapist) -> None:
    """Count one more open stream of the therapist's, or answer 429 at the cap."""
    limit = request.app[keys.SETTINGS].server.max_streams_per_therapist
    open_streams = request.app[keys.OPEN_STREAMS]
    if open_streams[therapist.id] >= limit:
        _LOGGER.debug("notice stream of therapist %s refused: %d are open", therapist.id, limit)  # a retrying client: not a warning each time
        raise refuse(web.HTTPTooManyRequests, f"at most {limit} notice streams may be open at once: close one first", **{"Retry-After": "30"})
    open_streams[therapist.id] += 1


class NoticeStream:
    """One open stream: writes the therapist's notices once each, in order, and marks them delivered."""

    def __init__(self, app: web.Application, therapist: Therapist, response: web.StreamResponse) -> None:
        self._app, self._therapist, self._response = app, therapist, response
        self.last_id = 0

    async def notices(self, rows: list[NoticeRow]) -> None:
        """Write notices this stream has not written yet, marked delivered and their states read together (a burst: once)."""
        fresh = []
        for row in rows:
            if row.id > self.last_id:
                fresh.append(row)
                self.last_id = row.id
        if not fresh:
            return
        outbox, ids = self._app[keys.OUTBOX], [row.id for row in fresh]
        if "dashboard" in self._therapist.channels:
            await outbox.mark_all_delivered(ids, "dashboard", self._app[keys.CLOCK]())
        states = await outbox.states(ids)
        await self._response.write(b"".join(event(notice_json(row, states[row.id]), "notice", row.id) for row in fresh))

    async def session_changed(self, change: SessionChanged) -> None:
        """Tell a live page that its session was judged again (no content: the page asks for what it shows)."""
        await self._response.write(event({"session_id": change.session_id}, "session"))

    async def delivery(self, update: DeliveryUpdate) -> None:
        """Write a delivery change, e.g. a channel that failed for good."""
        data = {"notice_id": update.notice_id, "channel": update.channel, "state": update.state}
        await self._response.write(event(data, "delivery"))


@routes.get(STREAM_PATH)
async def notice_stream(request: web.Request) -> web.StreamResponse:
    """Handle `GET /api/notices/stream[?ticket=T]`: replay after Last-Event-ID, then push notices as raised."""
    therapist = await _stream_therapist(request)
    resume_from = _resume_from(request)
    _count_stream(request, therapist)  # nothing below may await before the try that uncounts it
    board = request.app[keys.BOARD]
    queue = board.listen()  # listen before replaying, so nothing raised meanwhile is missed
    task = asyncio.current_task()
    assert task is not None
    request.app[keys.STREAMS].add(task)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    heartbeat = request.app.get(keys.STREAM_HEARTBEAT_SECONDS, HEARTBEAT_SECONDS)
    try:
        await response.prepare(request)
        stream = NoticeStream(request.app, therapist, response)
        if resume_from is not None:
            stream.last_id = resume_from
            while rows := await request.app[keys.STORE].notices_after(therapist.id, stream.last_id, REPLAY_ROWS):
                await stream.notices(rows)
                if len(rows) < REPLAY_ROWS:
                    break
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), heartbeat)
            except asyncio.TimeoutError:
                await response.write(b": heartbeat\n\n")
                continue
            await _write(stream, [item, *_queued(queue)], therapist.id)
    except ConnectionResetError:
        _LOGGER.debug("notice stream of therapist %s closed by the client", therapist.id)
    finally:
        board.unlisten(queue)
        request.app[keys.STREAMS].discard(task)
        request.app[keys.OPEN_STREAMS][therapist.id] -= 1
    return response


def _queued(queue: asyncio.Queue[Published]) -> list[Published]:
    """Return what else waits in the queue now (a burst of notices and their deliveries), up to a bound."""
    items: list[Published] = []
    while len(items) < BURST_MAX and not queue.empty():
        items.append(queue.get_nowait())
    return items


async def _write(stream: NoticeStream, items: list[Published], therapist_id: str) -> None:
    """Write the therapist's items in order, each run of notices together."""
    notices: list[NoticeRow] = []
    for item in items:
        if item.therapist_id != therapist_id:
            continue
        if isinstance(item, NoticeRow):
            notices.append(item)
            continue
        await stream.notices(notices)
        notices = []
        if isinstance(item, SessionChanged):
            await stream.session_changed(item)
        else:
            await stream.delivery(item)
    await stream.notices(notices)


async def _close_streams(app: web.Application) -> None:
    for task in app[keys.STREAMS].copy():
        task.cancel()


def setup(app: web.Application) -> None:
    """Add the stream route, and end open streams when the app shuts down."""
    app[keys.STREAMS] = set()
    app[keys.OPEN_STREAMS] = Counter()
    app.router.add_routes(routes)
    app.on_shutdown.append(_close_streams)
