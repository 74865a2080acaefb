"""The Zoom REST API through zoomus: created lazily in a thread, token kept fresh, failures backed off."""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from bot.core.settings import ZoomSettings

if TYPE_CHECKING:  # zoomus and requests load at the first call, not at every start (a few hundred milliseconds)
    import requests
    from zoomus import ZoomClient

_LOGGER = logging.getLogger(__name__)
TOKEN_LIFETIME_SECONDS = 3300  # Zoom's tokens last an hour; renew a little before
RETRIABLE = {429, 500, 502, 503, 504}
PAGE_SIZE = 300


class ZoomApiError(Exception):
    """A Zoom API call failed; the message names the call and the status, never a secret."""

    def __init__(self, message: str, retriable: bool = True) -> None:
        super().__init__(message)
        self.retriable = retriable  # False: Zoom refused the call itself (a 4xx), trying again will not help


class ZoomApi:
    """The few Zoom API calls the service makes, each run in a thread (zoomus is synchronous)."""

    def __init__(
        self,
        settings: ZoomSettings,
        retries: int = 3,
        backoff_seconds: float = 2.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._retries = retries
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._monotonic = monotonic
        self._client: ZoomClient | None = None
        self._token_at = 0.0
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        """Return whether the Server-to-Server OAuth credentials are all set."""
        s = self._settings
        return bool(s.client_id and s.client_secret and s.account_id)

    async def upcoming_meetings(self, user_id: str) -> list[dict[str, Any]]:
        """Return every upcoming scheduled meeting of a Zoom user, all pages."""
        meetings: list[dict[str, Any]] = []
        token = ""
        while True:
            params = {"user_id": user_id, "type": "upcoming", "page_size": PAGE_SIZE}
            if token:
                params["next_page_token"] = token
            page = await self._call("meeting.list", _meetings_page(params))
            meetings += [m for m in page.get("meetings") or [] if isinstance(m, dict)]
            token = page.get("next_page_token") or ""
            if not token:
                return meetings

    async def meeting(self, meeting_id: str) -> dict[str, Any]:
        """Return one meeting, with the occurrences of a recurring one."""
        return await self._call("meeting.get", lambda c: c.meeting.get(id=meeting_id))

    async def user(self, user_id: str) -> dict[str, Any]:
        """Return a Zoom user (its `jid` addresses private chat messages)."""
        return await self._call("user.get", lambda c: c.user.get(id=user_id))

    async def _call(self, name: str, call: Callable[[ZoomClient], requests.Response]) -> dict[str, Any]:
        import requests

        delay = self._backoff
        for attempt in range(self._retries + 1):
            try:
                response = await asyncio.to_thread(self._request, call)
                if response.status_code == 401:  # the token expired early or was revoked: renew once
                    _LOGGER.info("Zoom %s answered 401; renewing the token", name)
                    response = await asyncio.to_thread(self._request, call, True)
                status = response.status_code
                if 200 <= status < 300:
                    return response.json() if response.content else {}
                problem = f"HTTP {status}"
                if status not in RETRIABLE:
                    raise ZoomApiError(f"Zoom {name} failed: {problem}", retriable=False)
            except (requests.RequestException, ZoomAuthFailed, ValueError) as err:  # ValueError: a body that is not JSON
                problem = err.__class__.__name__
            if attempt < self._retries:
                _LOGGER.warning("Zoom %s failed (%s); retrying in %.1f s", name, problem, delay)
                await self._sleep(delay)
                delay *= 2
        raise ZoomApiError(f"Zoom {name} failed after {self._retries + 1} attempts: {problem}")

    def _request(self, call: Callable[[ZoomClient], requests.Response], renew: bool = False) -> requests.Response:
        """Make one call from a worker thread, creating the client or renewing its token first if needed."""
        with self._lock:
            if self._client is None:
                from zoomus import ZoomClient

                s = self._settings
                self._client = ZoomClient(
                    s.client_id, s.client_secret, s.account_id, base_uri=s.api_base_url, oauth_uri=s.oauth_url
                )
                self._token_at = self._monotonic()
            elif renew or self._monotonic() - self._token_at > TOKEN_LIFETIME_SECONDS:
                self._client.refresh_token()
                self._token_at = self._monotonic()
            client = self._client
            if not client.config.get("token"):
                self._client = None  # try a fresh client next time
                raise ZoomAuthFailed()
        return call(client)


class ZoomAuthFailed(Exception):
    """The token endpoint gave no access token (wrong credentials, or Zoom is down)."""


def _meetings_page(params: dict[str, Any]) -> Callable[[ZoomClient], requests.Response]:
    """Return the call that lists one page of meetings (a closure of its own, not of the paging loop's variable)."""
    return lambda c: c.meeting.list(**params)
