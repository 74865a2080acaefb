"""The Teams activity channel with the real msal against fake Entra (HTTPS) and Graph on loopback."""
from __future__ import annotations

import aiohttp
import pytest

from bot.core.message import AlertMessage
from bot.core.settings import TeamsSettings, Therapist
from bot.delivery.retry import DeliveryError
from integrations.teams.client import GraphToken, TeamsActivity, TimeoutSession
from tests.fakes.fixtures import T1_ENTRA
from tests.fakes.graph import TENANT

MESSAGE = AlertMessage(5, "client_video_off", "Client's video is off · C-17", "The client's video has been off for 1 min.", "https://c/sessions/s1")
THERAPIST = Therapist("t1", "A", "token", teams_user_id=T1_ENTRA)


async def send_twice(settings: TeamsSettings) -> None:
    async with aiohttp.ClientSession() as http:
        with TimeoutSession() as auth_http:
            channel = TeamsActivity(settings, http, GraphToken(settings, auth_http))
            await channel.send(THERAPIST, MESSAGE)
            await channel.send(THERAPIST, MESSAGE)


async def test_one_msal_app_discovers_the_tenant_once_and_reuses_its_token(fake_graph):
    await send_twice(TeamsSettings(**fake_graph.settings()))
    assert [r.route for r in fake_graph.received] == ["discovery", "token", "activity", "activity"]
    assert fake_graph.received[0].path == f"/{TENANT}/v2.0/.well-known/openid-configuration"
    assert fake_graph.received[1].body == {"scope": f"{fake_graph.graph_base_url}/.default"}
    activity = fake_graph.received[2]
    assert activity.path == f"/v1.0/users/{T1_ENTRA}/teamwork/sendActivityNotification"
    assert activity.headers["Authorization"] == f"Bearer {fake_graph.tokens[0]}"
    assert activity.body["previewText"] == {"content": MESSAGE.text}


async def test_a_wrong_client_secret_is_not_retried(fake_graph):
    settings = TeamsSettings(**{**fake_graph.settings(), "client_secret": "wrong"})
    with pytest.raises(DeliveryError) as refused:
        await send_twice(settings)
    assert (refused.value.code, refused.value.retryable) == ("token_invalid_client", False)


async def test_entra_down_at_first_use_is_retryable_and_the_app_is_built_when_it_returns(fake_graph):
    settings = TeamsSettings(**fake_graph.settings())
    fake_graph.fail("discovery", status=503)
    async with aiohttp.ClientSession() as http:
        with TimeoutSession() as auth_http:
            channel = TeamsActivity(settings, http, GraphToken(settings, auth_http))
            with pytest.raises(DeliveryError) as down:
                await channel.send(THERAPIST, MESSAGE)
            assert (down.value.code, down.value.retryable) == ("token_unavailable", True)
            await channel.send(THERAPIST, MESSAGE)
    assert fake_graph.hits["discovery"] == 2 and len(fake_graph.bodies("activity")) == 1


async def test_graph_errors_keep_their_status_and_retry_after(fake_graph):
    fake_graph.fail("activity", status=429, retry_after="7")
    with pytest.raises(DeliveryError) as throttled:
        await send_twice(TeamsSettings(**fake_graph.settings()))
    assert (throttled.value.code, throttled.value.retryable, throttled.value.retry_after) == ("http_429", True, 7.0)
