"""A fake Microsoft identity platform on loopback: OpenID configuration and JWKS with keys the test holds, and a minter."""
from __future__ import annotations

import functools
import itertools
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from integrations.teams.const import GRAPH_APP_ID
from integrations.teams.scripted.entra import (
    jwks,
    lifetime_claims,
    openid_configuration,
    sign,
)

from .service import FakeService

TENANT, CLIENT_ID = "tenant-7f3a", "graph-app-id"


@functools.cache
def signing_key(name: str) -> RSAPrivateKey:
    """Return one of the test's RSA signing keys by name (made once per run)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeEntra(FakeService):
    """Routes: `discovery` and `keys`; `published` names the keys the JWKS lists (rotate by changing it)."""

    def __init__(self) -> None:
        super().__init__()
        self.published = ["key-1"]
        self._jti = itertools.count(1)
        self.route("GET", "/{tenant}/v2.0/.well-known/openid-configuration", "discovery", self._discovery)
        self.route("GET", "/{tenant}/discovery/v2.0/keys", "keys", self._keys)

    @property
    def authority_host(self) -> str:
        return self.urls[0]

    @property
    def issuer(self) -> str:
        return f"{self.authority_host}/{TENANT}/v2.0"

    def settings(self) -> dict[str, str]:
        """Return the `[teams]` settings that point the service's token checks here."""
        return {"tenant_id": TENANT, "client_id": CLIENT_ID, "client_secret": "entra-secret-Aw6Tm1Qs9Xe4Rb7Kj~Vn2", "authority_host": self.authority_host}

    def mint(self, kid: str = "key-1", lifetime: float = 3600, **claims: Any) -> str:
        """Return a validation token as Graph's would be, signed with key `kid`; `claims` override its claims."""
        body = {"aud": CLIENT_ID, "iss": self.issuer, "azp": GRAPH_APP_ID, "tid": TENANT, "jti": f"jti-{next(self._jti)}", **lifetime_claims(lifetime)}
        return sign({**body, **claims}, signing_key(kid), kid)

    async def _discovery(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        if tenant != TENANT:
            return web.json_response({"error": "invalid_tenant"}, status=400)
        await self.record("discovery", request, None)
        return web.json_response(openid_configuration(self.authority_host, tenant))

    async def _keys(self, request: web.Request) -> web.Response:
        await self.record("keys", request, None)
        return web.json_response(jwks({kid: signing_key(kid) for kid in self.published}))
