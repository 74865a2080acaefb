"""Microsoft's identity platform, scripted on HTTPS loopback: OpenID discovery, client-credentials tokens, signing keys.

It signs what Microsoft signs: Graph's access tokens, the validation tokens of Graph's rich notifications
(with the tenant's keys) and the bearer tokens of calling-bot callbacks (with the Bot Framework's own keys,
listed by a second OpenID configuration, as `api.aps.skype.com` lists them).
"""
from __future__ import annotations

import hmac
import itertools
import json
import secrets
import ssl
import time
from typing import Any, Mapping

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from ..const import BOT_TOKEN_ISSUER, GRAPH_APP_ID

BOT_OPENID_PATH = "/skype/v1/.well-known/OpenIdConfiguration"
TOKEN_SECONDS = 3599
GRAPH_ROLES = ["Calendars.Read", "OnlineMeetings.Read.All", "Calls.JoinGroupCall.All", "TeamsActivity.Send"]


def openid_configuration(authority_host: str, tenant: str) -> dict[str, Any]:
    """Return a tenant's OpenID configuration as the identity platform publishes it (v2.0 endpoints)."""
    base = f"{authority_host}/{tenant}"
    return {
        "issuer": f"{base}/v2.0",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_types_supported": ["code", "id_token", "token"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    }


def jwks(keys: Mapping[str, RSAPrivateKey]) -> dict[str, Any]:
    """Return the JSON Web Key Set that lists the public halves of `keys` (by key id)."""
    listed = []
    for kid, key in keys.items():
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        listed.append({**jwk, "kid": kid, "use": "sig", "kty": "RSA"})
    return {"keys": listed}


def sign(claims: Mapping[str, Any], key: RSAPrivateKey, kid: str) -> str:
    """Return the RS256 JWT of `claims` (a claim set to None is left out) under key id `kid`."""
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="RS256", headers={"kid": kid})


def lifetime_claims(lifetime: float, now: float | None = None) -> dict[str, int]:
    """Return `iat`, `nbf` and `exp` for a token issued now (a few seconds back, as Entra does) that lasts `lifetime`."""
    now = time.time() if now is None else now
    return {"iat": int(now) - 5, "nbf": int(now) - 5, "exp": int(now + lifetime)}


def _refused(status: int, error: str) -> web.Response:
    return web.json_response({"error": error, "error_description": f"AADSTS: {error}"}, status=status)


class ScriptedEntra:
    """One tenant and one app registration (client id and secret) on HTTPS loopback; `start` it with a TLS context."""

    def __init__(self, tenant_id: str, client_id: str) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = secrets.token_urlsafe(24)
        self.tenant_keys = {"entra-key-1": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
        self.bot_keys = {"bot-key-1": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
        self.issued = 0  # access tokens given out
        self._jti = itertools.count(1)
        self._app = web.Application()
        self._app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._discovery)
        self._app.router.add_get("/{tenant}/discovery/v2.0/keys", self._keys)
        self._app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        self._app.router.add_get(BOT_OPENID_PATH, self._bot_discovery)
        self._app.router.add_get("/skype/v1/keys", self._bot_keys)
        self._runner = web.AppRunner(self._app, access_log=None)
        self.authority_host = ""

    async def start(self, tls: ssl.SSLContext) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        self.authority_host = f"https://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        await self._runner.cleanup()

    @property
    def issuer(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}/v2.0"

    @property
    def bot_openid_url(self) -> str:
        return self.authority_host + BOT_OPENID_PATH

    def settings(self) -> dict[str, str]:
        """Return the `[teams]` settings of the app registration, pointing the service's token checks here."""
        return {"tenant_id": self.tenant_id, "client_id": self.client_id, "client_secret": self.client_secret, "authority_host": self.authority_host}

    def _tenant_signed(self, claims: Mapping[str, Any]) -> str:
        kid, key = next(iter(self.tenant_keys.items()))
        return sign(claims, key, kid)

    def validation_token(self) -> str:
        """Return a validation token of a rich notification batch: issued to Graph, for our app, by our tenant."""
        return self._tenant_signed(
            {"aud": self.client_id, "iss": self.issuer, "azp": GRAPH_APP_ID, "tid": self.tenant_id, "jti": f"jti-{next(self._jti)}", **lifetime_claims(3600)}
        )

    def callback_token(self) -> str:
        """Return the bearer token of a calling-bot callback: the Bot Framework's, for our app."""
        kid, key = next(iter(self.bot_keys.items()))
        return sign({"aud": self.client_id, "iss": BOT_TOKEN_ISSUER, **lifetime_claims(3600)}, key, kid)

    def access_token_claims(self, token: str, audience: str) -> dict[str, Any] | None:
        """Return the claims of an access token this tenant issued for `audience` and still valid, else None."""
        kid, key = next(iter(self.tenant_keys.items()))
        try:
            return jwt.decode(token, key.public_key(), algorithms=["RS256"], audience=audience, issuer=self.issuer)
        except jwt.PyJWTError:
            return None

    def _known_tenant(self, request: web.Request) -> bool:
        return request.match_info["tenant"] == self.tenant_id

    async def _discovery(self, request: web.Request) -> web.Response:
        if not self._known_tenant(request):
            return _refused(400, "invalid_tenant")
        return web.json_response(openid_configuration(self.authority_host, self.tenant_id))

    async def _keys(self, request: web.Request) -> web.Response:
        return web.json_response(jwks(self.tenant_keys))

    async def _bot_discovery(self, request: web.Request) -> web.Response:
        return web.json_response({"issuer": BOT_TOKEN_ISSUER, "jwks_uri": f"{self.authority_host}/skype/v1/keys", "id_token_signing_alg_values_supported": ["RS256"]})

    async def _bot_keys(self, request: web.Request) -> web.Response:
        return web.json_response(jwks(self.bot_keys))

    async def _token(self, request: web.Request) -> web.Response:
        """Client credentials: our app's id and secret for `{resource}/.default` give an app-only access token."""
        if not self._known_tenant(request):
            return _refused(400, "invalid_tenant")
        form = await request.post()
        secret = str(form.get("client_secret", ""))
        if form.get("client_id") != self.client_id or not hmac.compare_digest(secret.encode(), self.client_secret.encode()):
            return _refused(401, "invalid_client")
        if form.get("grant_type") != "client_credentials":
            return _refused(400, "unsupported_grant_type")
        scope = str(form.get("scope", ""))
        resource = next((s.removesuffix("/.default") for s in scope.split() if s.endswith("/.default")), "")
        if not resource:
            return _refused(400, "invalid_scope")
        self.issued += 1
        claims = {"aud": resource, "iss": self.issuer, "appid": self.client_id, "tid": self.tenant_id, "roles": GRAPH_ROLES, **lifetime_claims(TOKEN_SECONDS)}
        return web.json_response({"token_type": "Bearer", "expires_in": TOKEN_SECONDS, "ext_expires_in": TOKEN_SECONDS, "access_token": self._tenant_signed(claims)})
