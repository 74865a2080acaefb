"""A fake Zoom on loopback: OAuth tokens (chatbot and Server-to-Server), users (JID), and chatbot messages."""
from __future__ import annotations

import base64
import itertools

from aiohttp import web

from .service import FakeService

CHATBOT_ID, CHATBOT_SECRET = "chatbot-id", "chatbot-secret"
API_ID, API_SECRET, ACCOUNT_ID = "s2s-id", "s2s-secret", "acct-Qw3"
ROBOT_JID = "v1robot@xmpp.zoom.us"


def _basic(request: web.Request) -> tuple[str, str]:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Basic":
        return "", ""
    user, _, secret = base64.b64decode(value).decode().partition(":")
    return user, secret


class FakeZoom(FakeService):
    """Routes: `token` (POST /oauth/token), `user` (GET /v2/users/{id}), `message` (POST /v2/im/chat/messages)."""

    def __init__(self, jids: dict[str, str] | None = None, expires_in: int = 3600) -> None:
        super().__init__()
        self.jids = jids or {}
        self.expires_in = expires_in
        self._serial = itertools.count(1)
        self.chatbot_tokens: list[str] = []
        self.api_tokens: list[str] = []
        self.route("POST", "/oauth/token", "token", self._token)
        self.route("GET", "/v2/users/{user_id}", "user", self._user)
        self.route("POST", "/v2/im/chat/messages", "message", self._message)

    @property
    def api_base_url(self) -> str:
        return self.urls[0] + "/v2"

    @property
    def oauth_url(self) -> str:
        return self.urls[0] + "/oauth/token"

    def settings(self) -> dict[str, str]:
        """Return the `[zoom]` settings that point the real clients here."""
        return {
            "api_base_url": self.api_base_url,
            "oauth_url": self.oauth_url,
            "account_id": ACCOUNT_ID,
            "client_id": API_ID,
            "client_secret": API_SECRET,
            "chatbot_client_id": CHATBOT_ID,
            "chatbot_client_secret": CHATBOT_SECRET,
            "robot_jid": ROBOT_JID,
        }

    def received_grants(self, grant: str) -> list[str]:
        """Return the token requests of one grant type that were answered."""
        return [r.body["grant_type"] for r in self.received if r.route == "token" and r.body["grant_type"] == grant]

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant = request.query.get("grant_type") or form.get("grant_type")
        user, secret = _basic(request)
        if grant == "client_credentials" and (user, secret) == (CHATBOT_ID, CHATBOT_SECRET):
            tokens = self.chatbot_tokens
        elif grant == "account_credentials" and (user, secret) == (API_ID, API_SECRET) and form.get("account_id") == ACCOUNT_ID:
            tokens = self.api_tokens
        else:
            return web.json_response({"reason": "Invalid client_id or client_secret", "error": "invalid_client"}, status=401)
        token = f"{grant}-{next(self._serial)}"
        tokens.append(token)
        await self.record("token", request, {"grant_type": grant})
        return web.json_response({"access_token": token, "token_type": "bearer", "expires_in": self.expires_in})

    def _bearer(self, request: web.Request, tokens: list[str]) -> bool:
        return request.headers.get("Authorization", "") in {f"Bearer {t}" for t in tokens}

    async def _user(self, request: web.Request) -> web.Response:
        if not self._bearer(request, self.api_tokens):
            return web.json_response({"code": 124, "message": "Invalid access token."}, status=401)
        user_id = request.match_info["user_id"]
        if user_id not in self.jids:
            return web.json_response({"code": 1001, "message": "User does not exist."}, status=404)
        await self.record("user", request, {"id": user_id})
        return web.json_response({"id": user_id, "jid": self.jids[user_id], "type": 2})

    async def _message(self, request: web.Request) -> web.Response:
        if not self._bearer(request, self.chatbot_tokens):
            return web.json_response({"code": 124, "message": "Invalid access token."}, status=401)
        body = await request.json()
        await self.record("message", request, body)
        return web.json_response({"message_id": f"m{next(self._serial)}"}, status=201)
