"""The Graph notification routes: handshake, clientState, validation tokens, signature, decrypt, store, then 202."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, AsyncIterator

import aiohttp
from aiohttp import web

from bot.core.settings import Settings
from bot.core.validity import EventRejected, believable
from bot.services import Services
from bot.storage.subscriptions import Subscription, SubscriptionStore

from . import keys
from .calls import CallBook
from .const import MAX_NOTIFICATIONS, PLATFORM
from .decryption import DecryptionError, decrypt
from .events import (
    CallEvent,
    CallEventFormatError,
    parse_call_event,
    without_application,
)
from .tokens import KeysUnavailable, OpenIdTokens, TokenError
from .validation import HandshakeError, check_validation_tokens, handshake_answer

_LOGGER = logging.getLogger(__name__)
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")


class Refused(Exception):
    """A delivery the service will not take: its status, and a reason that quotes nothing sent."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _answer(refused: Refused) -> web.Response:
    error = {400: "bad_request", 401: "unauthorized", 503: "unavailable"}[refused.status]
    headers = {"Retry-After": "60"} if refused.status == 503 else None
    return web.json_response({"error": error, "reason": refused.reason}, status=refused.status, headers=headers)


def openid_config_url(settings: Settings) -> str:
    """Return the identity platform's OpenID configuration for our tenant (where Graph's token keys are listed)."""
    teams = settings.teams
    return f"{teams.authority_host.rstrip('/')}/{teams.tenant_id or 'common'}/v2.0/.well-known/openid-configuration"


def graph_issuers(settings: Settings) -> set[str]:
    """Return the issuers of Graph's validation tokens for our tenant (v2 and v1 token forms)."""
    teams = settings.teams
    return {f"{teams.authority_host.rstrip('/')}/{teams.tenant_id}/v2.0", f"https://sts.windows.net/{teams.tenant_id}/"}


class TeamsWebhook:
    """`POST /webhooks/teams` and `/webhooks/teams/lifecycle`; the parts below are set as the app starts."""

    subscriptions: SubscriptionStore
    tokens: OpenIdTokens
    calls: CallBook

    def __init__(self, services: Services) -> None:
        if not services.settings.teams.client_id or not services.settings.teams.tenant_id:
            raise ValueError("[teams] client_id and tenant_id are required to take Teams notifications")
        self.services = services
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, app: web.Application) -> AsyncIterator[None]:
        """Cleanup context (after the subscription manager's): the token verifier's HTTP session, the calls; lifecycle work ends with it."""
        async with aiohttp.ClientSession() as http:
            settings = self.services.settings
            self.tokens = OpenIdTokens(http, openid_config_url(settings), settings.teams.client_id, graph_issuers(settings))
            self.subscriptions = app[keys.SUBSCRIPTIONS]
            self.calls = CallBook(self.services.tracker)
            yield
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def notifications(self, request: web.Request) -> web.Response:
        """Take a batch of change notifications: verify all of it, store every call event, then acknowledge."""
        try:
            if "validationToken" in request.query:
                return web.Response(text=handshake_answer(request.query["validationToken"]), content_type="text/plain")
            batch = await self._batch(request)
            subscriptions = await self._subscriptions(batch)
            if any("encryptedContent" in item for item in batch["value"]):
                await self._check_tokens(batch)
            calls = self._open(request.app, batch["value"])
            await self._store(subscriptions, calls)
        except HandshakeError as err:
            return _answer(Refused(400, str(err)))
        except Refused as refused:
            return _answer(refused)
        return web.json_response({"status": "accepted"}, status=202)

    async def lifecycle(self, request: web.Request) -> web.Response:
        """Take lifecycle notifications: verify them, acknowledge, then hand each to the subscription manager."""
        try:
            if "validationToken" in request.query:
                return web.Response(text=handshake_answer(request.query["validationToken"]), content_type="text/plain")
            batch = await self._batch(request)
            subscriptions = await self._subscriptions(batch)
            if "validationTokens" in batch:
                await self._check_tokens(batch)
        except HandshakeError as err:
            return _answer(Refused(400, str(err)))
        except Refused as refused:
            return _answer(refused)
        manager = request.app[keys.LIFECYCLE]
        for item, subscription in zip(batch["value"], subscriptions, strict=True):
            event = item.get("lifecycleEvent")
            event = event if event in LIFECYCLE_EVENTS else "unknown"
            _LOGGER.info("Teams lifecycle event %s for subscription %s", event, subscription.subscription_id)
            if event == "reauthorizationRequired":
                self._later(manager.reauthorize(subscription), subscription.subscription_id)
            elif event == "subscriptionRemoved":
                self._later(manager.resubscribe(subscription), subscription.subscription_id)
        return web.json_response({"status": "accepted"}, status=202)

    async def _batch(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()  # the app bounds the body (413 over its client_max_size)
        try:
            batch = json.loads(raw)
        except (ValueError, RecursionError):
            raise Refused(400, "the body is not JSON") from None
        if not isinstance(batch, dict) or not isinstance(batch.get("value"), list) or not batch["value"]:
            raise Refused(400, "value is not a list of notifications")
        if len(batch["value"]) > MAX_NOTIFICATIONS or not all(isinstance(item, dict) for item in batch["value"]):
            raise Refused(400, f"value must hold 1 to {MAX_NOTIFICATIONS} notification objects")
        return batch

    async def _subscriptions(self, batch: dict[str, Any]) -> list[Subscription]:
        """Return each notification's subscription; refuse the batch if any clientState is not its subscription's own."""
        found = []
        for item in batch["value"]:
            sid, state = item.get("subscriptionId"), item.get("clientState")
            ok = isinstance(sid, str) and isinstance(state, str) and 0 < len(sid) <= 128 and len(state) <= 255
            subscription = await self.subscriptions.matching(PLATFORM, sid, state) if ok else None
            if subscription is None:
                _LOGGER.warning("refused Teams notifications: a clientState does not match its subscription")
                raise Refused(401, "a notification's clientState does not match its subscription")
            found.append(subscription)
        return found

    async def _check_tokens(self, batch: dict[str, Any]) -> None:
        try:
            await check_validation_tokens(self.tokens, batch.get("validationTokens"))
        except KeysUnavailable as err:
            _LOGGER.warning("Teams notifications not checked: %s", err)
            raise Refused(503, "the identity platform's keys are unavailable; try again") from None
        except TokenError as err:
            _LOGGER.warning("refused Teams notifications: %s", err)
            raise Refused(401, "a validation token does not verify") from None

    def _open(self, app: web.Application, items: list[dict[str, Any]]) -> list[tuple[CallEvent, dict[str, Any]] | None]:
        """Return each notification's call event (None for one the service does not use), decrypted and parsed."""
        private_keys = app[keys.DECRYPTION_KEYS]
        now = self.services.clock()
        opened: list[tuple[CallEvent, dict[str, Any]] | None] = []
        for item in items:
            content = item.get("encryptedContent")
            if content is None:
                opened.append(None)  # a basic notification: no call event in it
                continue
            certificate_id = content.get("encryptionCertificateId") if isinstance(content, dict) else None
            if not isinstance(certificate_id, str) or certificate_id not in private_keys:
                raise Refused(400, "encryptedContent names no certificate of this service")
            try:
                payload = json.loads(decrypt(content, private_keys[certificate_id]))
                call = parse_call_event(payload)
            except DecryptionError as err:
                _LOGGER.warning("refused Teams notifications: %s", err)
                raise Refused(401, "encryptedContent does not verify") from None
            except (ValueError, RecursionError) as err:
                reason = str(err) if isinstance(err, CallEventFormatError) else "the decrypted content is not JSON"
                raise Refused(400, reason) from None
            if call is not None and not believable(call.at, now):
                raise Refused(400, "eventDateTime is not a believable time")
            if call is not None:  # the service's own calling bot is nobody in the meeting
                call = without_application(call, self.services.settings.teams.client_id)
            opened.append((call, payload) if call is not None else None)
        return opened

    async def _store(self, subscriptions: list[Subscription], calls: list[tuple[CallEvent, dict[str, Any]] | None]) -> None:
        settings = self.services.settings
        for subscription, opened in zip(subscriptions, calls, strict=True):
            therapist = settings.therapist(subscription.therapist_id)
            if opened is None or therapist is None or not therapist.teams_user_id:
                continue
            call, payload = opened
            try:
                done = await self.calls.record(therapist.id, therapist.teams_user_id, subscription.meeting_id, call, payload)
            except EventRejected as err:
                raise Refused(400, str(err)) from None
            if done is not None and done.recorded.session_id is not None:
                self.services.evaluation.submit(done.recorded.session_id)
                self.services.stored.publish(done.meeting, done.events)

    def _later(self, work: Any, subscription_id: str) -> None:
        async def run() -> None:
            try:
                await work
            except Exception as err:  # its text may quote a Graph answer or a join link: its kind only
                _LOGGER.error("the subscription manager failed on subscription %s (%s)", subscription_id, type(err).__name__)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
