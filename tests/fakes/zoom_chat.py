"""A fake Zoom on loopback for private messages: the chatbot's token and chat messages, beside the REST API fake."""
from __future__ import annotations

import base64
import itertools

from aiohttp import web

from . import zoom_api
from .service import FakeService

CHATBOT_ID, CHATBOT_SECRET = "chatbot-id", "chatbot-secret-Gt5Jn9Vb2Ry7Ls4Pe0"
ROBOT_JID = "v1robot@xmpp.zoom.us"


class FakeZoomChat(FakeService):
    """Routes: `token` (POST /oauth/token), `user` (GET /v2/users/{id}), `message` (POST /v2/im/chat/messages).

    The chatbot's `client_credentials` tokens are issued here; Server-to-Server tokens and users
    (with their `jid`) come from `api`, the fake Zoom REST API.
    """

    def __init__(self, jids: dict[str, str] | None = None, expires_in: int = 3600) -> None:
        super().__init__()
        users = {user_id: {"id": user_id, "jid": jid, "type": 2} for user_id, jid in (jids or {}).items()}
        self.api = zoom_api.FakeZoom(users=users)
        self.expires_in = expires_in
        self.chatbot_tokens: list[str] = []
        self._serial = itertools.count(1)
        self.route("POST", "/oauth/token", "token", self._token)
        self.route("GET", "/v2/users/{user_id}", "user", self.api.get_user)
        self.route("POST", "/v2/im/chat/messages", "message", self._message)

    def settings(self) -> dict[str, str]:
        """Return the `[zoom]` settings that point the real clients here."""
        return {
            "api_base_url": self.urls[0] + "/v2",
            "oauth_url": self.urls[0] + "/oauth/token",
            "account_id": zoom_api.ACCOUNT_ID,
            "client_id": zoom_api.CLIENT_ID,
            "client_secret": zoom_api.CLIENT_SECRET,
            "chatbot_client_id": CHATBOT_ID,
            "chatbot_client_secret": CHATBOT_SECRET,
            "robot_jid": ROBOT_JID,
        }

    async def _token(self, request: web.Request) -> web.Response:
        if request.query.get("grant_type") != "client_credentials":
            return await self.api.token(request)
        expected = "Basic " + base64.b64encode(f"{CHATBOT_ID}:{CHATBOT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"reason": "Invalid client_id or client_secret", "error": "invalid_client"}, status=401)
        token = f"chatbot-{next(self._serial)}"
        self.chatbot_tokens.append(token)
        await self.record("token", request, {"grant_type": "client_credentials"})
        return web.json_response({"access_token": token, "token_type": "bearer", "expires_in": self.expires_in})

    async def _message(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization", "") not in {f"Bearer {t}" for t in self.chatbot_tokens}:
            return web.json_response({"code": 124, "message": "Invalid access token."}, status=401)
        body = await request.json()
        await self.record("message", request, body)
        return web.json_response({"message_id": f"m{next(self._serial)}"}, status=201)
