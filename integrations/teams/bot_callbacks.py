"""`POST /webhooks/teams/calls`: the calling bot's callbacks. Bearer JWT first, then a bounded body, then store, then 202."""
from __future__ import annotations

import json
import logging
from typing import AsyncIterator

import aiohttp
from aiohttp import web

from bot.services import Services

from . import keys
from .call_roster import in_order, parse_callback
from .const import BOT_TOKEN_ISSUER, MAX_CALL_NOTIFICATIONS, MAX_CALLBACK_BYTES
from .events import CallEventFormatError
from .tokens import KeysUnavailable, OpenIdTokens, TokenError

_LOGGER = logging.getLogger(__name__)
ERRORS = {400: "bad_request", 401: "unauthorized", 413: "payload_too_large", 503: "unavailable"}


def _refused(status: int, reason: str) -> web.Response:
    headers = {"Retry-After": "60"} if status == 503 else None
    return web.json_response({"error": ERRORS[status], "reason": reason}, status=status, headers=headers)


class BotCallbacks:
    """The callback route; its token verifier (keys from `[teams] bot_openid_url`) is made as the app starts."""

    tokens: OpenIdTokens

    def __init__(self, services: Services) -> None:
        teams = services.settings.teams
        if not teams.client_id or not teams.bot_openid_url:
            raise ValueError("[teams] client_id and bot_openid_url are required to take the calling bot's callbacks")
        self.services = services

    async def run(self, app: web.Application) -> AsyncIterator[None]:
        """Cleanup context: the HTTP session the signing keys are fetched with (lazily, at the first callback)."""
        teams = self.services.settings.teams
        async with aiohttp.ClientSession() as http:
            self.tokens = OpenIdTokens(http, teams.bot_openid_url, teams.client_id, {BOT_TOKEN_ISSUER})
            yield

    async def handle(self, request: web.Request) -> web.Response:
        """Verify the callback's bearer token, read its notifications, store what they change, then acknowledge."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            _LOGGER.warning("refused a calling bot callback: no bearer token")
            return _refused(401, "the callback carries no bearer token")
        try:
            await self.tokens.verify(token.strip())
        except KeysUnavailable:
            _LOGGER.warning("a calling bot callback not checked: the Bot Framework's signing keys are unavailable")
            return _refused(503, "the signing keys are unavailable; try again")
        except TokenError as err:
            _LOGGER.warning("refused a calling bot callback: %s", err)
            return _refused(401, f"the bearer token does not verify: {err}")
        if request.content_length is not None and request.content_length > MAX_CALLBACK_BYTES:
            return _refused(413, f"a callback is at most {MAX_CALLBACK_BYTES} bytes")
        raw = await request.read()  # bounded by the app's client_max_size, then by ours
        if len(raw) > MAX_CALLBACK_BYTES:
            return _refused(413, f"a callback is at most {MAX_CALLBACK_BYTES} bytes")
        try:
            body = json.loads(raw)
            notifications = in_order(parse_callback(body, MAX_CALL_NOTIFICATIONS))
        except CallEventFormatError as err:  # the callback's own shape (CallbackFormatError) or a participant's
            return _refused(400, str(err))
        except (ValueError, RecursionError):
            return _refused(400, "the body is not JSON")
        await request.app[keys.CALLING_BOT].take(notifications, {"callback": "calls"})
        return web.json_response({"status": "accepted"}, status=202)
