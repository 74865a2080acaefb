"""A fake Bot Framework OpenID provider on loopback: the configuration and keys that sign a calling bot's callbacks, and a minter."""
from __future__ import annotations

import itertools
from typing import Any

from aiohttp import web

from integrations.teams.const import BOT_TOKEN_ISSUER
from integrations.teams.scripted.entra import jwks, lifetime_claims, sign

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
        body = {"aud": CLIENT_ID, "iss": BOT_TOKEN_ISSUER, "serviceurl": "https://smba.trafficmanager.net/emea/", "jti": f"bot-jti-{next(self._jti)}", **lifetime_claims(lifetime)}
        return sign({**body, **claims}, signing_key(kid), kid)

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
        listed = jwks({kid: signing_key(kid) for kid in self.published})
        return web.json_response({"keys": [{**key, "endorsements": ["msteams"]} for key in listed["keys"]]})
