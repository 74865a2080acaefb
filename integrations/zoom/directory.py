"""Look up a therapist's Zoom chat JID once with zoomus (`user.get`), off the event loop, and remember it."""
from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import requests
from zoomus import ZoomClient

from bot.retry import DeliveryError, error_for_status
from bot.settings import ZoomSettings

_LOGGER = logging.getLogger(__name__)
LOOKUP_TIMEOUT_SECONDS = 20  # zoomus fetches its token with no timeout of its own


class ZoomDirectory:
    """Therapists' JIDs from the Zoom API; the zoomus client is made lazily, in a thread, on first need."""

    def __init__(self, settings: ZoomSettings) -> None:
        self._settings = settings
        self._client: ZoomClient | None = None
        self._client_lock = threading.Lock()
        self._jids: dict[str, str] = {}

    async def jid(self, zoom_user_id: str) -> str:
        """Return the JID of a Zoom user, asking Zoom only the first time."""
        if zoom_user_id not in self._jids:
            try:
                found = await asyncio.wait_for(asyncio.to_thread(self._lookup, zoom_user_id), LOOKUP_TIMEOUT_SECONDS)
            except asyncio.TimeoutError:
                raise DeliveryError("jid_timeout", True) from None
            except requests.RequestException:
                raise DeliveryError("jid_connect", True) from None
            self._jids[zoom_user_id] = found
            _LOGGER.info("looked up the Zoom JID of user %s", zoom_user_id)
        return self._jids[zoom_user_id]

    def _zoomus(self) -> ZoomClient:
        with self._client_lock:  # its constructor fetches a token: build it once, in this thread
            if self._client is None:
                s = self._settings
                self._client = ZoomClient(s.client_id, s.client_secret, s.account_id, base_uri=s.api_base_url, oauth_uri=s.oauth_url)
            return self._client

    def _lookup(self, zoom_user_id: str) -> str:
        client = self._zoomus()
        response = client.user.get(id=zoom_user_id)
        if response.status_code == 401:  # zoomus never refreshes by itself; its token lasts an hour
            client.refresh_token()
            response = client.user.get(id=zoom_user_id)
        if response.status_code != 200:
            error = error_for_status(response.status_code, response.headers.get("Retry-After"), response.headers.get("Date"))
            raise DeliveryError("jid_" + error.code, error.retryable, error.retry_after)
        jid = _field(response, "jid")
        if not jid:
            raise DeliveryError("jid_missing", False)
        return jid


def _field(response: requests.Response, name: str) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return ""
    return str(body.get(name) or "") if isinstance(body, dict) else ""
