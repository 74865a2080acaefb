"""Look up a therapist's Zoom chat JID once with the Zoom API (zoomus `user.get`) and remember it."""
from __future__ import annotations

import asyncio
import logging

from bot.delivery.retry import DeliveryError

from .client import ZoomApi, ZoomApiError

_LOGGER = logging.getLogger(__name__)
LOOKUP_TIMEOUT_SECONDS = 20  # zoomus fetches its first token with no timeout of its own


class ZoomDirectory:
    """Therapists' JIDs from the Zoom API, asked once per therapist; failures are delivery errors."""

    def __init__(self, api: ZoomApi) -> None:
        self._api = api
        self._jids: dict[str, str] = {}
        self._asking = asyncio.Lock()  # a burst's sends wait for the one lookup rather than each making its own

    async def jid(self, zoom_user_id: str) -> str:
        """Return the JID of a Zoom user, asking Zoom only the first time."""
        if zoom_user_id in self._jids:
            return self._jids[zoom_user_id]
        async with self._asking:
            if zoom_user_id in self._jids:
                return self._jids[zoom_user_id]
            try:
                user = await asyncio.wait_for(self._api.user(zoom_user_id), LOOKUP_TIMEOUT_SECONDS)
            except asyncio.TimeoutError:
                raise DeliveryError("jid_timeout", True) from None
            except ZoomApiError as err:
                raise DeliveryError("jid_unavailable" if err.retriable else "jid_refused", err.retriable) from None
            if not user.get("jid"):
                raise DeliveryError("jid_missing", False)
            self._jids[zoom_user_id] = str(user["jid"])
            _LOGGER.info("looked up the Zoom JID of user %s", zoom_user_id)
            return self._jids[zoom_user_id]
