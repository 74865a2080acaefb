"""A fake Graph for the calling bot: it takes the bot's join, lists a call's participants, records keepAlive and
hang-up, and calls the bot back (commsNotifications, bearer JWTs of a fake Bot Framework) as Graph does."""
from __future__ import annotations

import itertools
import ssl
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Callable

import aiohttp
import pytest
from aiohttp import web

from integrations.teams.scripted import notifications as scripted

from .botframework import FakeBotFramework
from .entra import CLIENT_ID, TENANT
from .graph_calendar import FakeGraphMeetings

CALLS = "/v1.0/communications/calls"


def call_participant(
    participant_id: str, user_id: str | None = None, name: str = "", video: str | None = "sendReceive",
    app_id: str | None = None, lobby: bool = False, removed: bool = False,
) -> dict[str, Any]:
    """Return a participant as the calls API shows it: a user (Entra id), a guest, or an application; `video` its video direction."""
    if app_id:
        who: dict[str, Any] = {"application": {"@odata.type": "#microsoft.graph.identity", "id": app_id, "displayName": name or "Session Companion"}}
    else:
        who = scripted.identity(user_id, name, TENANT, f"guest-{participant_id}")
    entry = scripted.call_participant(participant_id, who, video, lobby)
    if removed:
        entry["removedState"] = {"reason": "Removed from the call"}
    return entry


def call_state(call_id: str, state: str, code: int | None = None, subcode: int | None = None, change: str = "updated") -> dict[str, Any]:
    """Return a commsNotification about the call itself (its state, and why it ended)."""
    data: dict[str, Any] = {"@odata.type": "#microsoft.graph.call", "state": state, "id": call_id}
    if code is not None or subcode is not None:
        data["resultInfo"] = {"@odata.type": "#microsoft.graph.resultInfo", "code": code, "subcode": subcode, "message": "details for the operator"}
    return scripted.comms_notification(f"/communications/calls/{call_id}", data, change)


def roster(call_id: str, participants: list[dict[str, Any]], change: str = "updated", sequence: int | None = None, delta: bool = False) -> dict[str, Any]:
    """Return a participants commsNotification: the list (`updated`: the whole roster), or a deltaParticipants with its sequence."""
    data: Any = participants
    if delta:
        data = {"@odata.type": "#microsoft.graph.deltaParticipants", "sequenceNumber": sequence, "participants": participants}
    return scripted.comms_notification(f"/communications/calls/{call_id}/participants", data, change)


class FakeGraphCalls(FakeGraphMeetings):
    """Routes `join`, `participants`, `keep_alive`, `hang_up`, besides the meetings' and Entra's; `notify` calls the bot back."""

    def __init__(self, bot_framework: FakeBotFramework, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        super().__init__(clock)
        self.bot_framework = bot_framework
        self.calls: dict[str, dict[str, Any]] = {}  # by call id: the join body, the participants, whether hung up
        self._call_ids = itertools.count(1)
        self.route("POST", CALLS, "join", self._join)
        self.route("GET", CALLS + "/{id}/participants", "participants", self._participants)
        self.route("POST", CALLS + "/{id}/keepAlive", "keep_alive", self._keep_alive)
        self.route("DELETE", CALLS + "/{id}", "hang_up", self._hang_up)

    def call_ids(self) -> list[str]:
        return list(self.calls)

    async def _join(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._refused(401, "InvalidAuthenticationToken")
        body = await request.json()
        await self.record("join", request, body)
        call_id = f"{next(self._call_ids):08d}-b174-40a0-aba7-0b405e01ed92"
        self.calls[call_id] = {"body": body, "participants": [], "hung_up": False}
        source = {"identity": {"application": {"id": CLIENT_ID, "displayName": "Session Companion"}}}
        answer = {**body, "id": call_id, "state": "establishing", "source": source, "myParticipantId": f"bot-{call_id[:8]}"}
        return web.json_response(answer, status=201, headers={"Location": f"{self.graph_base_url}{CALLS}/{call_id}"})

    def _call(self, request: web.Request) -> dict[str, Any] | None:
        found = self.calls.get(request.match_info["id"])
        return found if found is not None and not found["hung_up"] else None

    async def _participants(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._refused(401, "InvalidAuthenticationToken")
        await self.record("participants", request, None)
        call = self._call(request)
        if call is None:
            return self._refused(404, "ResourceNotFound")
        return web.json_response({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#participants", "value": call["participants"]})

    async def _keep_alive(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._refused(401, "InvalidAuthenticationToken")
        await self.record("keep_alive", request, None)
        if self._call(request) is None:
            return self._refused(404, "ResourceNotFound")
        return web.Response(status=200)

    async def _hang_up(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._refused(401, "InvalidAuthenticationToken")
        await self.record("hang_up", request, None)
        call = self._call(request)
        if call is None:
            return self._refused(404, "ResourceNotFound")
        call["hung_up"] = True
        return web.Response(status=204)

    async def notify(self, call_id: str, *notifications: dict[str, Any], token: str | None = None, url: str | None = None) -> tuple[int, Any]:
        """POST a callback to the call's callbackUri (or `url`), as Graph does, with a Bot Framework bearer token; return the answer."""
        target = url or self.calls[call_id]["body"]["callbackUri"]
        bearer = self.bot_framework.mint() if token is None else token
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        body = scripted.comms_notifications(*notifications)
        async with aiohttp.ClientSession() as http:
            async with http.post(target, json=body, headers=headers) as answer:
                return answer.status, await answer.json(content_type=None)


@pytest.fixture
async def bot_framework(tls: ssl.SSLContext) -> AsyncIterator[FakeBotFramework]:
    """Serve a fresh fake Bot Framework OpenID provider over HTTPS on loopback."""
    fake = FakeBotFramework()
    await fake.start(tls)
    yield fake
    await fake.stop()


@pytest.fixture
async def graph_calls(tls: ssl.SSLContext, bot_framework: FakeBotFramework) -> AsyncIterator[FakeGraphCalls]:
    """Serve a fresh fake Graph (plain HTTP, with calls) and Entra (HTTPS) on loopback."""
    fake = FakeGraphCalls(bot_framework)
    await fake.start_both(tls)
    yield fake
    await fake.stop()
