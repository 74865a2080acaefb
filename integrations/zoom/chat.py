"""Send the therapist a private Zoom Team Chat message through the chatbot API, with a cached chatbot token."""
from __future__ import annotations

import asyncio
import base64
import logging
import time
from typing import Callable

import aiohttp

from bot.core.message import AlertMessage
from bot.core.settings import Therapist, ZoomSettings
from bot.delivery.retry import DeliveryError
from integrations.http import post

from .const import CHAT_MESSAGES_PATH, TOKEN_EARLY_SECONDS
from .directory import ZoomDirectory

_LOGGER = logging.getLogger(__name__)


class ChatbotToken:
    """The chatbot's client-credentials token, fetched once and kept until shortly before it expires."""

    def __init__(self, settings: ZoomSettings, http: aiohttp.ClientSession, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._http = http
        self._monotonic = monotonic
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        """Return a valid chatbot token, fetching a new one only when needed."""
        async with self._lock:
            if self._token is None or self._monotonic() >= self._expires:
                pair = f"{self._settings.chatbot_client_id}:{self._settings.chatbot_client_secret}"
                headers = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
                answer = await post(self._http, f"{self._settings.oauth_url}?grant_type=client_credentials", headers=headers, prefix="token_")
                if not isinstance(answer, dict) or not answer.get("access_token"):
                    raise DeliveryError("token_bad_answer", True)
                self._token = str(answer["access_token"])
                self._expires = self._monotonic() + max(0.0, float(answer.get("expires_in", 3600)) - TOKEN_EARLY_SECONDS)
                _LOGGER.info("fetched a Zoom chatbot token")
            return self._token

    def forget(self) -> None:
        """Drop the token (Zoom refused it), so the next call fetches a fresh one."""
        self._token = None


class ZoomChat:
    """The `zoom_chat` channel: one private chatbot message to the therapist's Zoom JID."""

    def __init__(self, settings: ZoomSettings, http: aiohttp.ClientSession, directory: ZoomDirectory) -> None:
        self._settings = settings
        self._http = http
        self._directory = directory
        self.token = ChatbotToken(settings, http)

    async def send(self, therapist: Therapist, message: AlertMessage) -> None:
        """Post `message` to the therapist in Zoom Team Chat; raise DeliveryError if Zoom does not take it."""
        to_jid = therapist.zoom_jid or await self._directory.jid(therapist.zoom_user_id)
        body = {
            "robot_jid": self._settings.robot_jid,
            "to_jid": to_jid,
            "account_id": self._settings.account_id,
            "content": {
                "head": {"text": message.title},
                "body": [{"type": "message", "text": f"{message.text}\n{message.url}"}],
            },
        }
        headers = {"Authorization": f"Bearer {await self.token.get()}"}
        try:
            await post(self._http, self._settings.api_base_url.rstrip("/") + CHAT_MESSAGES_PATH, headers=headers, json=body)
        except DeliveryError as err:
            if err.code == "http_401":
                self.token.forget()
            raise
        _LOGGER.info("sent notice %s to therapist %s by Zoom chat", message.notice_id, therapist.id)
