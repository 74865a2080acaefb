"""Send the therapist a private Teams activity-feed notification through Graph, with one shared msal app."""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Callable
from urllib.parse import quote

import aiohttp
import msal
import msal.exceptions
import requests

from bot.core.message import AlertMessage
from bot.core.settings import TeamsSettings, Therapist
from bot.delivery.retry import DeliveryError
from integrations.http import post

from .const import (
    ACTIVITY_PATH,
    ACTIVITY_TYPE,
    HTTP_TIMEOUT_SECONDS,
    PREVIEW_MAX_CHARS,
    SYSTEM_DEFAULT_TEXT,
    TOKEN_TIMEOUT_SECONDS,
)

_LOGGER = logging.getLogger(__name__)


class TimeoutSession(requests.Session):
    """A requests session that never waits without end (msal passes no timeout of its own)."""

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", HTTP_TIMEOUT_SECONDS)
        return super().request(method, url, *args, **kwargs)


class GraphToken:
    """App-only Graph tokens from one msal ConfidentialClientApplication, which caches them itself."""

    def __init__(self, settings: TeamsSettings, http_client: requests.Session, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._http_client = http_client
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()
        self.scope = settings.graph_base_url.rstrip("/") + "/.default"
        # msal's answer kept here for the first half of its life: a send then needs no thread (msal is synchronous).
        self._monotonic = monotonic
        self._kept: tuple[str, float] | None = None  # (token, until)
        self._asking = asyncio.Lock()  # a burst's sends wait for the one answer rather than each taking a thread

    def _application(self) -> msal.ConfidentialClientApplication:
        with self._lock:  # its constructor does tenant discovery over the network: build it once
            if self._app is None:
                s = self._settings
                self._app = msal.ConfidentialClientApplication(
                    s.client_id,
                    client_credential=s.client_secret,
                    authority=f"{s.authority_host.rstrip('/')}/{s.tenant_id}",
                    http_client=self._http_client,
                    # Tenant discovery still runs; the instance-discovery call to Microsoft's central
                    # endpoint would be the only request not sent to `authority_host`.
                    instance_discovery=False,
                )
            return self._app

    def _acquire(self) -> dict[str, Any]:
        return self._application().acquire_token_for_client(scopes=[self.scope])

    async def get(self) -> str:
        """Return a Graph token: kept in memory for half its life, then asked of msal (which caches it until near expiry)."""
        if self._kept is not None and self._monotonic() < self._kept[1]:
            return self._kept[0]
        async with self._asking:
            if self._kept is not None and self._monotonic() < self._kept[1]:  # asked while this send waited
                return self._kept[0]
            return await self._ask()

    async def _ask(self) -> str:
        asked = self._monotonic()
        try:
            result = await asyncio.wait_for(asyncio.to_thread(self._acquire), TOKEN_TIMEOUT_SECONDS)
        except asyncio.TimeoutError:
            raise DeliveryError("token_timeout", True) from None
        except (requests.RequestException, msal.exceptions.MsalError, ValueError, RuntimeError):  # Entra unreachable or broken
            raise DeliveryError("token_unavailable", True) from None
        if "access_token" not in result:
            error = str(result.get("error") or "unknown")
            raise DeliveryError(f"token_{error}"[:40], error not in ("invalid_client", "unauthorized_client"))
        token = str(result["access_token"])
        try:
            lifetime = float(result.get("expires_in") or 0)
        except (TypeError, ValueError):  # no usable lifetime: ask msal every time, as before
            lifetime = 0.0
        self._kept = (token, asked + lifetime / 2) if lifetime > 0 else None
        return token


class TeamsActivity:
    """The `teams_activity` channel: a systemDefault activity in the therapist's Teams feed."""

    def __init__(self, settings: TeamsSettings, http: aiohttp.ClientSession, token: GraphToken) -> None:
        self._settings = settings
        self._http = http
        self._token = token

    async def send(self, therapist: Therapist, message: AlertMessage) -> None:
        """Notify the therapist in Teams; raise DeliveryError if Graph does not take it."""
        body = {
            "topic": {"source": "text", "value": message.title, "webUrl": message.url},
            "activityType": ACTIVITY_TYPE,
            "previewText": {"content": message.text[:PREVIEW_MAX_CHARS]},
            "templateParameters": [{"name": SYSTEM_DEFAULT_TEXT, "value": message.text}],
        }
        url = self._settings.graph_base_url.rstrip("/") + ACTIVITY_PATH.format(user_id=quote(therapist.teams_user_id, safe=""))
        headers = {"Authorization": f"Bearer {await self._token.get()}"}
        await post(self._http, url, headers=headers, json=body)
        _LOGGER.info("sent notice %s to therapist %s by Teams activity", message.notice_id, therapist.id)
