"""A fake Bot Framework OpenID provider on loopback: the configuration and keys that sign a calling bot's callbacks, and a minter."""
from __future__ import annotations

import itertools
import json
import time
from typing import Any

import jwt
from aiohttp import web

from integrations.teams.const import BOT_TOKEN_ISSUER

from .entra import CLIENT_ID, signing_key
from .service import FakeService

OPENID_PATH = "/v1/.well-known/OpenIdConfiguration"  # as at https://api.aps.skype.com
KEYS_PATH = "/v1/.well-known/keys"


class FakeBotFramework(FakeService):
    """Routes `openid` and `keys`; `published` names the keys the JWKS lists. Serve it over HTTPS (the setting insists)."""

    def __init__(self) -> None:
        super().__init__()
        self.published = ["bot-key-1"]
        self._jti = itertools.count(1)
        self.route("GET", OPENID_PATH, "openid", self._openid)
        self.route("GET", KEYS_PATH, "keys", self._keys)

    @property
    def openid_url(self) -> str:
        """Return the `[teams] bot_openid_url` that points the service here."""
        return self.urls[0] + OPENID_PATH

    def mint(self, kid: str = "bot-key-1", lifetime: float = 3600, **claims: Any) -> str:
        """Return a callback's bearer token as the Bot Framework signs it; `claims` override (None drops one)."""
        now = time.time()
        body = {
            "aud": CLIENT_ID, "iss": BOT_TOKEN_ISSUER, "iat": int(now) - 5, "nbf": int(now) - 5, "exp": int(now + lifetime),
            "serviceurl": "https://smba.trafficmanager.net/emea/", "jti": f"bot-jti-{next(self._jti)}",
        }
        body.update(claims)
        return jwt.encode({k: v for k, v in body.items() if v is not None}, signing_key(kid), algorithm="RS256", headers={"kid": kid})

    async def _openid(self, request: web.Request) -> web.Response:
        await self.record("openid", request, None)
        base = self.urls[0]
        return web.json_response(
            {
                "issuer": BOT_TOKEN_ISSUER,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": base + KEYS_PATH,
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        await self.record("keys", request, None)
        keys = []
        for kid in self.published:
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key(kid).public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "kty": "RSA", "endorsements": ["msteams"]})
        return web.json_response({"keys": keys})
