"""Make one outbound HTTP call for a delivery and turn every way it can fail into a DeliveryError."""
from __future__ import annotations

import asyncio
from typing import Any, Mapping

import aiohttp

from bot.delivery.retry import DeliveryError, error_for_status

REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)


async def post(
    http: aiohttp.ClientSession,
    url: str,
    *,
    headers: Mapping[str, str],
    json: Any = None,
    prefix: str = "",
) -> Any:
    """POST and return the JSON answer (None when empty); raise DeliveryError on any failure."""
    try:
        async with http.post(url, json=json, headers=headers, timeout=REQUEST_TIMEOUT) as response:
            if response.status >= 400:
                error = error_for_status(response.status, response.headers.get("Retry-After"), response.headers.get("Date"))
                raise DeliveryError(prefix + error.code, error.retryable, error.retry_after)
            body = await response.read()
            return await response.json(content_type=None) if body else None
    except asyncio.TimeoutError:
        raise DeliveryError(prefix + "timeout", True) from None
    except ValueError:  # an answer that is not JSON
        raise DeliveryError(prefix + "bad_answer", True) from None
    except aiohttp.ClientError:
        raise DeliveryError(prefix + "connect", True) from None
