"""A fake Entra ID (OpenID discovery, signing keys, client-credentials token, over HTTPS) and Graph activity feed."""
from __future__ import annotations

import itertools
import ssl

from aiohttp import web

from .entra import CLIENT_ID, TENANT, FakeEntra

CLIENT_SECRET = "graph-app-secret-Ux4Nq8Wz2Lc6Rv0Ty~Pb3"


class FakeGraph(FakeEntra):
    """Routes: Entra's `discovery`, `keys` and `token` (on the HTTPS port) and Graph's `activity` (on the plain port)."""

    def __init__(self) -> None:
        super().__init__()
        self._serial = itertools.count(1)
        self.tokens: list[str] = []
        self.route("POST", "/{tenant}/oauth2/v2.0/token", "token", self._token)
        self.route("POST", "/v1.0/users/{user_id}/teamwork/sendActivityNotification", "activity", self._activity)

    async def start_both(self, tls: ssl.SSLContext) -> None:
        """Serve Graph on plain HTTP and Entra on HTTPS (msal accepts only https authorities)."""
        await self.start(None, tls)

    @property
    def graph_base_url(self) -> str:
        return self.urls[0]

    @property
    def authority_host(self) -> str:
        return self.urls[1]

    def settings(self) -> dict[str, str]:
        """Return the `[teams]` settings that point the real clients here."""
        return {
            "tenant_id": TENANT,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "authority_host": self.authority_host,
            "graph_base_url": self.graph_base_url,
        }

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return web.json_response({"error": "invalid_client", "error_description": "AADSTS7000215"}, status=401)
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        token = f"graph-token-{next(self._serial)}"
        self.tokens.append(token)
        await self.record("token", request, {"scope": form.get("scope")})
        return web.json_response({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token})

    async def _activity(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization", "") not in {f"Bearer {t}" for t in self.tokens}:
            return web.json_response({"error": {"code": "InvalidAuthenticationToken"}}, status=401)
        body = await request.json()
        await self.record("activity", request, body)
        return web.Response(status=204)
