"""Microsoft Graph, scripted on loopback for the demo: a calendar, meeting event subscriptions, calls, the activity feed.

It answers as Graph does (the access token checked, errors as `{"error": {"code", "message"}}`, a new
subscription's URLs validated by the handshake first) and it delivers as Graph does: meeting call events
as rich notifications encrypted to the subscription's certificate with validation tokens, and calling-bot
callbacks with a Bot Framework bearer token.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

import aiohttp
from aiohttp import web
from cryptography import x509

from bot.core.timefmt import from_iso

from .entra import ScriptedEntra
from .notifications import (
    call_participant,
    comms_notification,
    comms_notifications,
    encrypted_content,
    rich_notification,
)

MAX_LIFETIME = timedelta(days=3)  # for meeting call events
MAX_CLIENT_STATE = 128
HANDSHAKE_SECONDS = 10  # Graph's wait for the validation answer
DELIVERY_TIMEOUT = aiohttp.ClientTimeout(total=10)
GRAPH_TIME = "%Y-%m-%dT%H:%M:%S.0000000"  # Graph's dateTime, 7 fraction digits, zone given beside it


class DeliveryRefused(Exception):
    """The service did not take a delivery (its status is in the message)."""


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@dataclass
class ScriptedCall:
    """A call a calling bot placed: what it asked for, where its callbacks go, and the call's roster by participant id."""

    id: str
    request: dict[str, Any]
    callback_uri: str
    state: str = "establishing"
    roster: dict[str, dict[str, Any]] = field(default_factory=dict)
    roster_reads: int = 0
    keep_alives: int = 0

    @property
    def resource(self) -> str:
        return f"/communications/calls/{self.id}"


class ScriptedGraph:
    """Graph on plain HTTP loopback; its tokens are the scripted Entra's. `changed` is notified on every call to it."""

    def __init__(self, entra: ScriptedEntra, clock: Callable[[], datetime], app_name: str = "Session Companion") -> None:
        self.entra = entra
        self.clock = clock  # the service's clock: subscription lifetimes are judged on it
        self.app_name = app_name
        self.calendars: dict[str, list[dict[str, Any]]] = {}  # by Entra user id: calendar events as Graph returns them
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.calls: dict[str, ScriptedCall] = {}
        self.hung_up: list[ScriptedCall] = []
        self.activities = 0  # activity-feed notifications taken
        self.changed = asyncio.Condition()
        self._certificates: dict[str, x509.Certificate] = {}
        self._ids = itertools.count(1)
        self._http: aiohttp.ClientSession | None = None
        app = web.Application(middlewares=[self._check_token])
        app.router.add_get("/v1.0/users/{user_id}/calendarView", self._calendar)
        app.router.add_post("/beta/subscriptions", self._subscribe)
        app.router.add_patch("/beta/subscriptions/{id}", self._renew)
        app.router.add_delete("/beta/subscriptions/{id}", self._unsubscribe)
        app.router.add_post("/v1.0/communications/calls", self._place_call)
        app.router.add_get("/v1.0/communications/calls/{id}/participants", self._participants)
        app.router.add_post("/v1.0/communications/calls/{id}/keepAlive", self._keep_alive)
        app.router.add_delete("/v1.0/communications/calls/{id}", self._hang_up)
        app.router.add_post("/v1.0/users/{user_id}/teamwork/sendActivityNotification", self._activity)
        self._runner = web.AppRunner(app, access_log=None)
        self.base_url = ""

    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    async def wait_for(self, check: Callable[[], Any], timeout: float) -> Any:
        """Wait until `check()` is truthy and return it (TimeoutError after `timeout` seconds)."""
        async with asyncio.timeout(timeout):
            async with self.changed:
                await self.changed.wait_for(check)
        return check()

    async def _changed(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    @web.middleware
    async def _check_token(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Every call needs an access token from the scripted Entra, for Graph."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or self.entra.access_token_claims(token, self.base_url) is None:
            return error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        return await handler(request)

    # Delivering, as Graph does.

    async def notify(self, payloads: list[dict[str, Any]]) -> None:
        """Deliver meeting call events to the (one) subscription: a batch of rich notifications; raise unless taken."""
        ((sub_id, subscription),) = self.subscriptions.items()
        certificate = self._certificates[sub_id]
        items = [rich_notification(subscription, p, encrypted_content(p, certificate, subscription["encryptionCertificateId"]), self.entra.tenant_id) for p in payloads]
        await self._deliver(subscription["notificationUrl"], {"value": items, "validationTokens": [self.entra.validation_token()]}, {})

    async def call_back(self, call: ScriptedCall, *notifications: dict[str, Any]) -> None:
        """POST commsNotifications about `call` to its callbackUri with the Bot Framework's bearer token; raise unless taken."""
        await self._deliver(call.callback_uri, comms_notifications(*notifications), {"Authorization": f"Bearer {self.entra.callback_token()}"})

    async def establish(self, call: ScriptedCall) -> None:
        """The call is set up: tell the bot so."""
        call.state = "established"
        await self.call_back(call, comms_notification(call.resource, {"@odata.type": "#microsoft.graph.call", "state": "established"}))

    async def roster_changed(self, call: ScriptedCall) -> None:
        """Tell the bot the call's participants, as they are now."""
        await self.call_back(call, comms_notification(f"{call.resource}/participants", list(call.roster.values())))

    async def _deliver(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        assert self._http is not None
        async with self._http.post(url, json=body, headers=headers, timeout=DELIVERY_TIMEOUT) as response:
            if response.status >= 300:
                raise DeliveryRefused(f"the service answered {response.status}")

    # The calendar.

    async def _calendar(self, request: web.Request) -> web.Response:
        try:
            start, end = from_iso(request.query["startDateTime"]), from_iso(request.query["endDateTime"])
        except (KeyError, ValueError):
            return error(400, "ErrorInvalidParameter", "startDateTime and endDateTime are required.")
        events = self.calendars.get(request.match_info["user_id"], [])
        found = [e for e in events if from_iso(e["start"]["dateTime"]) < end and from_iso(e["end"]["dateTime"]) > start]
        return web.json_response({"value": found})

    def plan_meeting(self, user_id: str, join_url: str, start: datetime, minutes: int, subject: str = "Session") -> None:
        """Put a Teams meeting in a user's calendar, as calendarView lists it in UTC."""
        self.calendars.setdefault(user_id, []).append(
            {
                "id": f"AAMkADemo{next(self._ids)}", "type": "singleInstance", "subject": subject, "isCancelled": False,
                "isOnlineMeeting": True, "onlineMeetingProvider": "teamsForBusiness", "onlineMeeting": {"joinUrl": join_url},
                "start": {"dateTime": start.strftime(GRAPH_TIME), "timeZone": "UTC"},
                "end": {"dateTime": (start + timedelta(minutes=minutes)).strftime(GRAPH_TIME), "timeZone": "UTC"},
            }
        )

    # Subscriptions.

    async def _subscribe(self, request: web.Request) -> web.Response:
        body = await request.json()
        problem = self._subscription_problem(body)
        if problem:
            return error(400, "InvalidRequest", problem)
        for url in (body["notificationUrl"], body.get("lifecycleNotificationUrl")):
            if url and not await self._validated(url):
                return error(400, "InvalidRequest", "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.")
        created = {"@odata.context": f"{self.base_url}/beta/$metadata#subscriptions/$entity", **body, "id": str(uuid.uuid4()), "applicationId": self.entra.client_id}
        self.subscriptions[created["id"]] = created
        self._certificates[created["id"]] = x509.load_der_x509_certificate(base64.b64decode(body["encryptionCertificate"]))
        await self._changed()
        return web.json_response(created, status=201)

    def _subscription_problem(self, body: Any) -> str:
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("changeType", "notificationUrl", "resource", "expirationDateTime")):
            return "changeType, notificationUrl, resource and expirationDateTime are required."
        try:
            expires = from_iso(body["expirationDateTime"])
        except ValueError:
            return "expirationDateTime is not a date."
        if expires > self.clock() + MAX_LIFETIME:
            return "Subscription expiration can only be 4230 minutes in the future."
        if len(str(body.get("clientState", ""))) > MAX_CLIENT_STATE:
            return "clientState is longer than 128 characters."
        if body.get("includeResourceData"):
            try:
                x509.load_der_x509_certificate(base64.b64decode(str(body.get("encryptionCertificate")), validate=True))
            except (binascii.Error, ValueError):
                return "A rich notification subscription needs a valid encryptionCertificate."
            if not body.get("encryptionCertificateId"):
                return "A rich notification subscription needs an encryptionCertificateId."
        return ""

    async def _validated(self, url: str) -> bool:
        """Graph's handshake: POST `?validationToken=`; the endpoint must echo the token as text/plain within 10 s."""
        assert self._http is not None
        token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
        try:
            async with self._http.post(
                url, params={"validationToken": token}, headers={"Content-Type": "text/plain; charset=utf-8"}, timeout=aiohttp.ClientTimeout(total=HANDSHAKE_SECONDS)
            ) as response:
                return response.status == 200 and response.content_type == "text/plain" and await response.text() == token
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    async def _renew(self, request: web.Request) -> web.Response:
        found = self.subscriptions.get(request.match_info["id"])
        if found is None:
            return error(404, "ResourceNotFound", "The object was not found.")
        body = await request.json()
        try:
            expires = from_iso(str(body.get("expirationDateTime")))
        except ValueError:
            return error(400, "InvalidRequest", "expirationDateTime is not a date.")
        if expires > self.clock() + MAX_LIFETIME:
            return error(400, "InvalidRequest", "Subscription expiration can only be 4230 minutes in the future.")
        found["expirationDateTime"] = body["expirationDateTime"]
        await self._changed()
        return web.json_response(found)

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        if self.subscriptions.pop(request.match_info["id"], None) is None:
            return error(404, "ResourceNotFound", "The object was not found.")
        await self._changed()
        return web.Response(status=204)

    # Calls placed by a calling bot.

    async def _place_call(self, request: web.Request) -> web.Response:
        body = await request.json()
        callback = body.get("callbackUri") if isinstance(body, dict) else None
        if not isinstance(callback, str) or not callback.startswith(("http://", "https://")):
            return error(400, "BadRequest", "callbackUri is required.")
        if not body.get("chatInfo") and not body.get("meetingInfo"):
            return error(400, "BadRequest", "A call to a meeting needs chatInfo or meetingInfo.")
        call = ScriptedCall(str(uuid.uuid4()), body, callback)
        bot_id = f"bot-{secrets.token_hex(4)}"  # the bot itself is in the call's roster, under the app's name
        call.roster[bot_id] = call_participant(bot_id, {"application": {"id": self.entra.client_id, "displayName": self.app_name}}, None)
        self.calls[call.id] = call
        await self._changed()
        return web.json_response({"@odata.type": "#microsoft.graph.call", **body, "id": call.id, "state": call.state}, status=201)

    def _call(self, request: web.Request) -> ScriptedCall | None:
        return self.calls.get(request.match_info["id"])

    async def _participants(self, request: web.Request) -> web.Response:
        call = self._call(request)
        if call is None:
            return error(404, "ItemNotFound", "The call was not found.")
        call.roster_reads += 1
        await self._changed()
        return web.json_response({"@odata.context": f"{self.base_url}/v1.0/$metadata#communications/calls('{call.id}')/participants", "value": list(call.roster.values())})

    async def _keep_alive(self, request: web.Request) -> web.Response:
        call = self._call(request)
        if call is None:
            return error(404, "ItemNotFound", "The call was not found.")
        call.keep_alives += 1
        await self._changed()
        return web.Response(status=200)

    async def _hang_up(self, request: web.Request) -> web.Response:
        call = self.calls.pop(request.match_info["id"], None)
        if call is None:
            return error(404, "ItemNotFound", "The call was not found.")
        call.state = "terminated"
        self.hung_up.append(call)
        await self._changed()
        return web.Response(status=204)

    async def _activity(self, request: web.Request) -> web.Response:
        self.activities += 1
        await self._changed()
        return web.Response(status=204)
