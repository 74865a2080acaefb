"""Call Microsoft Graph over aiohttp with app tokens from the shared msal app, retrying 429 and 5xx after Retry-After."""
from __future__ import annotations

import asyncio
import json
import logging
import random
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping

import aiohttp

from bot.core.settings import TeamsSettings
from bot.delivery.retry import DeliveryError, retry_after_seconds

from .client import GraphToken
from .const import HTTP_TIMEOUT_SECONDS

_LOGGER = logging.getLogger(__name__)
RETRIABLE = frozenset({429, 500, 502, 503, 504})
TIMEOUT = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_SECONDS, connect=5)
_JITTER = random.Random()  # its own generator: retries leave the process's shared random state alone


class GraphError(Exception):
    """A Graph call failed: its name, the HTTP status (0: none) and Graph's error code; never a body."""

    def __init__(self, call: str, status: int, code: str, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(f"Graph {call} failed: {f'HTTP {status} ' if status else ''}{code}")
        self.status = status
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after  # seconds, from the answer's Retry-After


class GraphClient:
    """Graph calls on one injected session; the base URL comes from the settings, so tests can point it at a fake."""

    def __init__(
        self,
        settings: TeamsSettings,
        http: aiohttp.ClientSession,
        token: GraphToken,
        *,
        attempts: int = 4,
        backoff_seconds: float = 1.0,
        max_wait_seconds: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = _JITTER.random,
    ) -> None:
        self.base_url = settings.graph_base_url.rstrip("/")
        self._http = http
        self._token = token
        self._attempts = max(attempts, 1)
        self._backoff = backoff_seconds
        self._max_wait = max_wait_seconds
        self._sleep = sleep
        self._jitter = jitter

    async def get(self, call: str, path: str, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None) -> Any:
        """GET `path` (under the base URL) and return its JSON."""
        return await self.request(call, "GET", self.base_url + path, params=params, headers=headers)

    async def pages(
        self, call: str, path: str, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield every item of a collection, following `@odata.nextLink` page by page."""
        page = await self.get(call, path, params, headers)
        while True:
            page = page if isinstance(page, dict) else {}
            for item in page.get("value") or []:
                if isinstance(item, dict):
                    yield item
            link = page.get("@odata.nextLink")
            if not link:
                return
            if not str(link).startswith(self.base_url + "/"):  # the token goes only to Graph
                raise GraphError(call, 0, "foreign_next_link", False)
            page = await self.request(call, "GET", str(link), headers=headers)

    async def post(self, call: str, path: str, body: Any = None) -> Any:
        """POST JSON to `path` and return the answer's JSON (None when empty)."""
        return await self.request(call, "POST", self.base_url + path, json=body)

    async def patch(self, call: str, path: str, body: Any) -> Any:
        """PATCH `path` with JSON and return the answer's JSON."""
        return await self.request(call, "PATCH", self.base_url + path, json=body)

    async def delete(self, call: str, path: str) -> None:
        """DELETE `path`."""
        await self.request(call, "DELETE", self.base_url + path)

    async def request(self, call: str, method: str, url: str, **kwargs: Any) -> Any:
        """Make one call, trying again after 429 and 5xx (as long as Retry-After says) a bounded number of times."""
        attempt = 1
        while True:
            try:
                return await self._once(call, method, url, **kwargs)
            except GraphError as err:
                if not err.retryable or attempt >= self._attempts:
                    raise
                backoff = self._backoff * 2 ** (attempt - 1)
                wait = min(backoff if err.retry_after is None else err.retry_after, self._max_wait)
                wait += wait * 0.1 * self._jitter()  # never sooner than Retry-After; spread so retries do not arrive together
                _LOGGER.warning("%s; attempt %d of %d, again in %.1f s", err, attempt, self._attempts, wait)
                await self._sleep(wait)
                attempt += 1

    async def _once(self, call: str, method: str, url: str, headers: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
        try:
            token = await self._token.get()
        except DeliveryError as err:  # the token's own failure, named as the activity channel names it
            raise GraphError(call, 0, err.code, err.retryable) from None
        sent = {**(headers or {}), "Authorization": f"Bearer {token}"}
        try:
            async with self._http.request(method, url, headers=sent, timeout=TIMEOUT, **kwargs) as response:
                body = await response.read()
                if response.status < 400:
                    return await response.json(content_type=None) if body else None
                wait = retry_after_seconds(response.headers.get("Retry-After"), response.headers.get("Date"))
                raise GraphError(call, response.status, _error_code(body), response.status in RETRIABLE, wait)
        except asyncio.TimeoutError:
            raise GraphError(call, 0, "timeout", True) from None
        except aiohttp.ClientError:
            raise GraphError(call, 0, "connect", True) from None
        except ValueError:  # an answer that is not JSON
            raise GraphError(call, 0, "bad_answer", True) from None


def _error_code(body: bytes) -> str:
    """Return Graph's error code from an error body (`{"error": {"code": ...}}`), never its message."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return "unknown"
    code = error.get("code") if isinstance(error, dict) else error
    return str(code)[:60] if isinstance(code, str) and code.isprintable() else "unknown"
