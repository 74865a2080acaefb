"""A fake Graph for Teams meetings: therapists' calendarView (paged) and change-notification subscriptions."""
from __future__ import annotations

import itertools
import ssl
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Callable

import pytest
from aiohttp import web

from bot.core.timefmt import from_iso

from .graph import FakeGraph

MAX_LIFETIME = timedelta(days=3)  # Graph's limit for meeting call event subscriptions


class FakeGraphMeetings(FakeGraph):
    """Routes `calendar`, `subscribe`, `renew`, `reauthorize`, `unsubscribe`, besides Entra's and the activity feed."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc), page_size: int = 2) -> None:
        super().__init__()
        self.clock = clock
        self.page_size = page_size
        self.events: dict[str, list[dict[str, Any]]] = {}  # by user id: calendar events as Graph returns them
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.next_link_base = ""  # set: next links point there instead (a server that is not Graph)
        self._ids = itertools.count(1)
        self.route("GET", "/v1.0/users/{user_id}/calendarView", "calendar", self._calendar)
        self.route("POST", "/beta/subscriptions", "subscribe", self._subscribe)
        self.route("PATCH", "/beta/subscriptions/{id}", "renew", self._renew)
        self.route("POST", "/beta/subscriptions/{id}/reauthorize", "reauthorize", self._reauthorize)
        self.route("DELETE", "/beta/subscriptions/{id}", "unsubscribe", self._unsubscribe)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "") in {f"Bearer {t}" for t in self.tokens}

    @staticmethod
    def _refused(status: int, code: str) -> web.Response:
        return web.json_response({"error": {"code": code, "message": "details with personal data"}}, status=status)

    async def _calendar(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._refused(401, "InvalidAuthenticationToken")
        query = request.query
        start, end = from_iso(query["startDateTime"]), from_iso(query["endDateTime"])
        user = request.match_info["user_id"]
        found = [e for e in self.events.get(user, []) if from_iso(e["start"]["dateTime"]) < end and from_iso(e["end"]["dateTime"]) > start]
        skip = int(query.get("$skiptoken", "0"))
        await self.record("calendar", request, dict(query))
        page: dict[str, Any] = {"value": found[skip : skip + self.page_size]}
        if skip + self.page_size < len(found):
            link = request.url.update_query({"$skiptoken": str(skip + self.page_size)})
            page["@odata.nextLink"] = (self.next_link_base + link.path_qs) if self.next_link_base else str(link)
        return web.json_response(page)

    async def _subscribe(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._refused(401, "InvalidAuthenticationToken")
        body = await request.json()
        await self.record("subscribe", request, body)
        if from_iso(body["expirationDateTime"]) > self.clock() + MAX_LIFETIME:
            return self._refused(400, "ExtensionError")
        created = {**body, "id": f"sub-{next(self._ids)}"}
        self.subscriptions[created["id"]] = created
        return web.json_response(created, status=201)

    async def _renew(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._refused(401, "InvalidAuthenticationToken")
        body = await request.json()
        await self.record("renew", request, body)
        found = self.subscriptions.get(request.match_info["id"])
        if found is None:
            return self._refused(404, "ResourceNotFound")
        if from_iso(body["expirationDateTime"]) > self.clock() + MAX_LIFETIME:
            return self._refused(400, "ExtensionError")
        found["expirationDateTime"] = body["expirationDateTime"]
        return web.json_response(found)

    async def _reauthorize(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._refused(401, "InvalidAuthenticationToken")
        await self.record("reauthorize", request, None)
        if request.match_info["id"] not in self.subscriptions:
            return self._refused(404, "ResourceNotFound")
        return web.Response(status=204)

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._refused(401, "InvalidAuthenticationToken")
        await self.record("unsubscribe", request, None)
        if self.subscriptions.pop(request.match_info["id"], None) is None:
            return self._refused(404, "ResourceNotFound")
        return web.Response(status=204)


@pytest.fixture
async def graph_meetings(tls: ssl.SSLContext) -> AsyncIterator[FakeGraphMeetings]:
    """Serve a fresh fake Graph (plain HTTP) and Entra (HTTPS) on loopback."""
    fake = FakeGraphMeetings()
    await fake.start_both(tls)
    yield fake
    await fake.stop()
