"""When to try a delivery again: exponential backoff with jitter, Retry-After honoured, up to a bound."""
from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime


class DeliveryError(Exception):
    """A channel did not take a message; `code` names why and is safe to store and log."""

    def __init__(self, code: str, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a delivery is retried before it is marked failed."""

    max_attempts: int = 8
    base_seconds: float = 1.0
    max_backoff_seconds: float = 60.0
    max_retry_after_seconds: float = 600.0

    def delay(self, attempts: int, error: DeliveryError, rng: random.Random) -> float | None:
        """Return seconds to wait before attempt `attempts + 1`, or None if the delivery has failed."""
        if not error.retryable or attempts >= self.max_attempts:
            return None
        if error.retry_after is not None:  # the channel said when: wait exactly that, within reason
            return min(max(error.retry_after, 0.0), self.max_retry_after_seconds)
        backoff = min(self.max_backoff_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        return backoff / 2 + rng.uniform(0, backoff / 2)  # "equal jitter": spread retries, never hammer


def retry_after_seconds(value: str | None, date: str | None) -> float | None:
    """Read a Retry-After header: seconds, or an HTTP date taken relative to the answer's own Date."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # '²' is a digit to isdigit(), not to float()
        return float(value)
    try:
        until = parsedate_to_datetime(value)
        sent = parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        return None
    return max(0.0, (until - sent).total_seconds()) if sent else None


def error_for_status(status: int, retry_after: str | None = None, date: str | None = None) -> DeliveryError:
    """Return the delivery error an HTTP error status means: 429, 5xx and 401 are worth retrying."""
    retryable = status == 429 or status >= 500 or status == 401  # 401: the cached token went stale
    wait = retry_after_seconds(retry_after, date) if status in (429, 503) else None
    return DeliveryError(f"http_{status}", retryable, wait)
