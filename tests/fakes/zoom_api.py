"""A fake Zoom REST API on loopback: OAuth token endpoint, meetings and users, with scripted failures."""
from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CLIENT_ID = "zoom-client-id-7"
CLIENT_SECRET = "zoom-client-secret-3-Kd8Fs2Mw6Qz1Xh"
ACCOUNT_ID = "zoom-account-1"


@dataclass
class FakeZoom:
    """What the fake serves and what it saw; tests edit `meetings` and queue failures."""

    meetings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # user id -> listing
    details: dict[str, dict[str, Any]] = field(default_factory=dict)  # meeting id -> meeting.get body
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    valid_tokens: set[str] = field(default_factory=set)
    failures: list[int] = field(default_factory=list)  # statuses to answer API calls with, in turn
    token_requests: int = 0
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    page_size: int = 2
    base: str = ""  # the fake's address, set once it is served
    _counter: Any = field(default_factory=lambda: itertools.count(1))

    def expire_tokens(self) -> None:
        """Make every token issued so far answer 401, as after Zoom's hour is up."""
        self.valid_tokens.clear()

    async def token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = await request.post()
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != expected or form.get("account_id") != ACCOUNT_ID:
            return web.json_response({"reason": "Invalid client_id or client_secret", "error": "invalid_client"}, status=400)
        if form.get("grant_type") != "account_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        token = f"tok-{next(self._counter)}"
        self.valid_tokens.add(token)
        return web.json_response({"access_token": token, "token_type": "bearer", "expires_in": 3599, "scope": "meeting:read"})

    def _check(self, request: web.Request) -> web.Response | None:
        self.calls.append((request.path, dict(request.query)))
        if self.failures:
            return web.json_response({"code": 500, "message": "fake failure"}, status=self.failures.pop(0))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.valid_tokens:
            return web.json_response({"code": 124, "message": "Invalid access token."}, status=401)
        return None

    async def list_meetings(self, request: web.Request) -> web.Response:
        if (refused := self._check(request)) is not None:
            return refused
        listing = self.meetings.get(request.match_info["user_id"], [])
        start = int(request.query.get("next_page_token") or 0)
        page = listing[start : start + self.page_size]
        more = start + self.page_size < len(listing)
        return web.json_response(
            {"page_size": self.page_size, "total_records": len(listing), "next_page_token": str(start + self.page_size) if more else "", "meetings": page}
        )

    async def get_meeting(self, request: web.Request) -> web.Response:
        if (refused := self._check(request)) is not None:
            return refused
        meeting = self.details.get(request.match_info["meeting_id"])
        if meeting is None:
            return web.json_response({"code": 3001, "message": "Meeting does not exist."}, status=404)
        return web.json_response(meeting)

    async def get_user(self, request: web.Request) -> web.Response:
        if (refused := self._check(request)) is not None:
            return refused
        user = self.users.get(request.match_info["user_id"])
        return web.json_response(user) if user else web.json_response({"code": 1001, "message": "User does not exist."}, status=404)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/oauth/token", self.token)
        app.router.add_get("/v2/users/{user_id}/meetings", self.list_meetings)
        app.router.add_get("/v2/meetings/{meeting_id}", self.get_meeting)
        app.router.add_get("/v2/users/{user_id}", self.get_user)
        return app
