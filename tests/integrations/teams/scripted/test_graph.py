"""The demo's scripted Microsoft answers as Microsoft does: the real msal and Graph client, the service's own checks."""
from __future__ import annotations

import json
import ssl
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.config.settings_file import parse_settings
from bot.core.settings import TeamsSettings
from bot.core.timefmt import to_iso
from integrations.teams.client import GraphToken, TimeoutSession
from integrations.teams.decryption import decrypt
from integrations.teams.graph import GraphClient, GraphError
from integrations.teams.scripted.entra import ScriptedEntra
from integrations.teams.scripted.graph import ScriptedGraph
from integrations.teams.scripted.notifications import call_event
from integrations.teams.tokens import OpenIdTokens, TokenError
from integrations.teams.validation import check_validation_tokens
from integrations.teams.webhook import graph_issuers, openid_config_url
from tests.conftest import settings_dict
from tests.fakes.graph_notifications import service_key

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
USER = "3a9e0f5b-6c1d-4e2f-8a3b-7c4d5e6f7a8b"
JOIN_URL = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_VGVzdA%40thread.v2/0?context=%7b%22Tid%22%3a%22t%22%7d"


class Endpoint:
    """The service's notification URL, as far as Graph can tell: it answers the handshake (or not) and takes batches."""

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo
        self.batches: list[dict[str, Any]] = []
        self.app = web.Application()
        self.app.router.add_post("/webhooks/teams", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        if "validationToken" in request.query:
            return web.Response(text=request.query["validationToken"] if self.echo else "no", content_type="text/plain")
        self.batches.append(await request.json())
        return web.json_response({}, status=202)


@pytest.fixture
async def microsoft(tls: ssl.SSLContext) -> AsyncIterator[tuple[ScriptedEntra, ScriptedGraph]]:
    entra = ScriptedEntra("7b0c5a1e-5d3e-4f27-9a61-0d3e5c0ffee1", "c0de5e55-1011-4a2b-8c3d-5e551011c0de")
    graph = ScriptedGraph(entra, lambda: NOW)
    await entra.start(tls)
    await graph.start()
    yield entra, graph
    await graph.stop()
    await entra.stop()


@pytest.fixture
async def client(microsoft) -> AsyncIterator[GraphClient]:
    entra, graph = microsoft
    settings = TeamsSettings(**entra.settings(), graph_base_url=graph.base_url)
    async with aiohttp.ClientSession() as http:
        with TimeoutSession() as auth_http:
            yield GraphClient(settings, http, GraphToken(settings, auth_http), attempts=1)


async def serve(aiohttp_server, endpoint: Endpoint) -> str:
    server = await aiohttp_server(endpoint.app)
    return str(server.make_url("/webhooks/teams"))


def subscription(url: str, expires: datetime = NOW + timedelta(days=2)) -> dict[str, Any]:
    key = service_key()
    return {
        "changeType": "updated", "notificationUrl": url, "resource": f"communications/onlineMeetings(joinWebUrl='{JOIN_URL}')/meetingCallEvents",
        "includeResourceData": True, "encryptionCertificate": key.encryption_certificate, "encryptionCertificateId": key.certificate_id,
        "expirationDateTime": to_iso(expires), "clientState": "state-1",
    }


async def test_the_real_msal_gets_a_token_over_https_and_graph_lists_the_calendar_with_it(microsoft, client):
    entra, graph = microsoft
    graph.plan_meeting(USER, JOIN_URL, NOW + timedelta(hours=1), 50)
    window = {"startDateTime": to_iso(NOW), "endDateTime": to_iso(NOW + timedelta(hours=24))}
    (event,) = [e async for e in client.pages("calendarView", f"/v1.0/users/{USER}/calendarView", window)]
    assert event["onlineMeeting"] == {"joinUrl": JOIN_URL} and event["start"]["timeZone"] == "UTC"
    assert [e async for e in client.pages("calendarView", f"/v1.0/users/{USER}/calendarView", {**window, "startDateTime": to_iso(NOW + timedelta(hours=2))})] == []
    assert entra.issued == 1  # msal kept its token


async def test_graph_refuses_a_token_it_did_not_issue(microsoft):
    _, graph = microsoft
    async with aiohttp.ClientSession() as http:
        answer = await http.get(f"{graph.base_url}/v1.0/users/{USER}/calendarView", headers={"Authorization": "Bearer made-up"})
        assert answer.status == 401 and (await answer.json())["error"]["code"] == "InvalidAuthenticationToken"


async def test_a_subscription_is_made_only_after_its_url_answers_the_handshake(microsoft, client, aiohttp_server):
    _, graph = microsoft
    with pytest.raises(GraphError) as refused:
        await client.post("create subscription", "/beta/subscriptions", subscription(await serve(aiohttp_server, Endpoint(echo=False))))
    assert refused.value.status == 400 and not graph.subscriptions
    with pytest.raises(GraphError) as too_long:
        await client.post("create subscription", "/beta/subscriptions", subscription(await serve(aiohttp_server, Endpoint()), NOW + timedelta(days=4)))
    assert too_long.value.status == 400
    made = await client.post("create subscription", "/beta/subscriptions", subscription(await serve(aiohttp_server, Endpoint())))
    assert list(graph.subscriptions) == [made["id"]] and made["clientState"] == "state-1"


async def test_notifications_open_with_the_service_key_and_their_validation_tokens_verify(microsoft, client, aiohttp_server):
    entra, graph = microsoft
    endpoint = Endpoint()
    await client.post("create subscription", "/beta/subscriptions", subscription(await serve(aiohttp_server, endpoint)))
    started = call_event(JOIN_URL, "callStarted", "2026-03-02T09:00:00.0000000Z", "n1")
    await graph.notify([started])

    (batch,) = endpoint.batches
    (item,) = batch["value"]
    assert item["clientState"] == "state-1" and json.loads(decrypt(item["encryptedContent"], service_key().private_key)) == started
    settings = parse_settings(settings_dict("sqlite+aiosqlite:///unused.db", teams=entra.settings()), {})
    async with aiohttp.ClientSession() as http:
        tokens = OpenIdTokens(http, openid_config_url(settings), entra.client_id, graph_issuers(settings))
        await check_validation_tokens(tokens, batch["validationTokens"])  # the webhook's own check
        with pytest.raises(TokenError):
            await tokens.verify(entra.callback_token())  # the Bot Framework's token is not Graph's
