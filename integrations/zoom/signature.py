"""Verify Zoom webhook signatures on the raw body, in constant time, with a bounded clock skew."""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Callable, Mapping

from .const import (
    MAX_CLOCK_SKEW_SECONDS,
    SIGNATURE_HEADER,
    SIGNATURE_VERSION,
    TIMESTAMP_HEADER,
)


class SignatureError(Exception):
    """The request is not provably from Zoom; the message says why (never echoes the body)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the `x-zm-signature` value Zoom would send for `body` at `timestamp`."""
    message = f"{SIGNATURE_VERSION}:{timestamp}:".encode() + body
    return f"{SIGNATURE_VERSION}=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def url_validation_answer(secret: str, plain_token: str) -> dict[str, str]:
    """Return the answer to `endpoint.url_validation`: the token and its HMAC."""
    encrypted = hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}


class SignatureVerifier:
    """Check `x-zm-signature` against the secret token; refuses to exist without a secret."""

    def __init__(
        self,
        secret: str,
        max_skew: int = MAX_CLOCK_SKEW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError("a Zoom webhook secret token is required")
        self._secret = secret
        self._max_skew = max_skew
        self._clock = clock

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise SignatureError unless the headers sign `body` within the allowed skew."""
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        signature = headers.get(SIGNATURE_HEADER, "")
        if not timestamp or not signature:
            raise SignatureError("missing signature headers")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise SignatureError("malformed timestamp")
        sent_at = int(timestamp)
        if abs(self._clock() - sent_at) > self._max_skew:
            raise SignatureError("stale or future timestamp")
        expected = sign(self._secret, timestamp, body)
        # Header bytes that are not UTF-8 arrive as surrogates: compare them as bytes, never fail on them.
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "surrogateescape")):
            raise SignatureError("signature does not match")

    def url_validation(self, plain_token: str) -> dict[str, str]:
        """Return the answer to Zoom's URL validation challenge."""
        return url_validation_answer(self._secret, plain_token)
