"""Verify JWTs signed by an OpenID provider's published keys: fetched, cached, and refetched for an unknown key."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Callable, Collection

import aiohttp
import jwt

from .const import (
    KEYS_MIN_REFETCH_SECONDS,
    KEYS_REFRESH_SECONDS,
    MAX_CLOCK_SKEW_SECONDS,
    MAX_JWT_CHARS,
)

_LOGGER = logging.getLogger(__name__)
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
MAX_DOCUMENT_BYTES = 256 * 1024
ALGORITHMS = ["RS256"]  # never the token's own choice: `none` and HMAC with a public key stay out


class TokenError(Exception):
    """The token is not one the provider signed for us, now; the message says which check failed."""


class KeysUnavailable(TokenError):
    """The provider's keys could not be fetched: the token may be good, but cannot be checked now."""


class OpenIdTokens:
    """Check a JWT's signature (RS256, provider's keys), audience, issuer and lifetime with a bounded skew."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        openid_config_url: str,
        audience: str,
        issuers: Collection[str],
        clock: Callable[[], float] = time.time,
        max_skew: int = MAX_CLOCK_SKEW_SECONDS,
    ) -> None:
        if not audience or not issuers:
            raise ValueError("a token audience (our app id) and at least one issuer are required")
        self._http = http
        self._config_url = openid_config_url
        self._audience = audience
        self._issuers = sorted(issuers)
        self._clock = clock
        self._max_skew = max_skew
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> dict[str, Any]:
        """Return the token's claims, or raise TokenError naming the check it failed."""
        if not isinstance(token, str) or not token or len(token) > MAX_JWT_CHARS or not token.isascii():
            raise TokenError("the token is missing, too long or not a JWT's characters")  # a JWT is base64url text
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError("the token is not a JWT") from None
        kid = header.get("kid")
        if header.get("alg") not in ALGORITHMS or not isinstance(kid, str) or not kid:
            raise TokenError("the token's algorithm or key id is not acceptable")
        key = await self._key(kid)
        try:
            claims = jwt.decode(
                token, key, algorithms=ALGORITHMS, audience=self._audience, issuer=self._issuers,
                # Lifetime is judged below on the injected clock, with the skew this verifier allows.
                options={"require": ["exp", "aud", "iss"], "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.InvalidAudienceError:
            raise TokenError("the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise TokenError("the token is from another issuer") from None
        except jwt.InvalidSignatureError:
            raise TokenError("the token's signature does not verify") from None
        except jwt.PyJWTError:
            raise TokenError("the token is malformed") from None
        self._check_lifetime(claims)
        return claims

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        now = self._clock()
        exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
        if not isinstance(exp, (int, float)) or isinstance(exp, bool) or now > exp + self._max_skew:
            raise TokenError("the token has expired")
        if nbf is not None and (not isinstance(nbf, (int, float)) or isinstance(nbf, bool) or now + self._max_skew < nbf):
            raise TokenError("the token is not valid yet")

    async def _key(self, kid: str) -> jwt.PyJWK:
        """Return the signing key `kid`, fetching the keys when stale, or (at most every few minutes) when it is unknown."""
        async with self._lock:  # one fetch at a time; the others then find the key
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at > KEYS_REFRESH_SECONDS
            may_refetch = self._fetched_at is None or now - self._fetched_at > KEYS_MIN_REFETCH_SECONDS
            if stale or (kid not in self._keys and may_refetch):
                await self._fetch(now)
            if kid not in self._keys:
                raise TokenError("the token is signed with an unknown key")
            return self._keys[kid]

    async def _fetch(self, now: float) -> None:
        try:
            config = await self._get_json(self._config_url)
            jwks_uri = config.get("jwks_uri") if isinstance(config, dict) else None
            if not isinstance(jwks_uri, str) or not jwks_uri:
                raise ValueError("the OpenID configuration names no jwks_uri")
            document = await self._get_json(jwks_uri)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as err:
            _LOGGER.warning("could not fetch the token signing keys: %s", err.__class__.__name__)
            if self._keys and self._fetched_at is not None:
                self._fetched_at = now  # keep the keys we have; try again after the refetch interval
                return
            raise KeysUnavailable("the provider's signing keys are unavailable") from None
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []) if isinstance(document, dict) else []:
            try:
                key = jwt.PyJWK(entry)
            except (jwt.PyJWTError, TypeError, ValueError, KeyError):
                continue  # a key of a type we do not use
            if isinstance(entry.get("kid"), str) and entry.get("use", "sig") == "sig":
                keys[entry["kid"]] = key
        self._keys, self._fetched_at = keys, now
        _LOGGER.info("fetched %d token signing key(s)", len(keys))

    async def _get_json(self, url: str) -> Any:
        async with self._http.get(url, timeout=FETCH_TIMEOUT) as response:
            if response.status != 200:
                raise ValueError(f"status {response.status}")
            body = await response.content.read(MAX_DOCUMENT_BYTES + 1)
            if len(body) > MAX_DOCUMENT_BYTES:
                raise ValueError("the document is too large")
            return json.loads(body)
