"""The Teams notification routes on the real server: handshake, clientState, tokens, signature, and a whole call."""
from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from bot.core.join_urls import join_url_key
from bot.storage.subscriptions import Subscription
from bot.web import keys
from bot.web.app import create_app
from integrations.teams import keys as teams_keys
from tests.conftest import TOKEN_A
from tests.fakes.entra import FakeEntra
from tests.fakes.fixtures import PUBLIC_URL
from tests.fakes.graph_notifications import call_event, notification, participant, service_key, service_key_file

T1_ENTRA = "3f1c2d9e-0000-4a6b-9c1d-7e2f5a6b8c01"
CLIENT_ENTRA = "c11e47aa-5b2f-4f0e-8d3c-1a2b3c4d5e6f"
JOIN_URL = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_N2QzYjQ5ZTQtYzk1%40thread.v2/0?context=%7b%22Tid%22%3a%22tenant-7f3a%22%7d"
STATE = "client-state-9f8e7d6c5b4a"
SUB_ID = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
T0 = datetime(2025, 3, 4, 14, 0, tzinfo=timezone.utc)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", ".0000000Z")


@pytest.fixture
async def entra():
    fake = FakeEntra()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def teams_settings(make_settings, entra, tmp_path):
    def make(storage_url=None):
        therapists = [{"id": "t1", "name": "Therapist A", "api_token": TOKEN_A, "teams_user_id": T1_ENTRA, "timezone": "Europe/London"}]
        clients = [{"code": "C-17", "therapist": "t1", "teams_join_urls": [JOIN_URL], "entra_ids": [CLIENT_ENTRA]}]
        # The service decrypts with the operator's key file (the one the fake Graph encrypts to); no calendar sync runs.
        teams = {**entra.settings(), "encryption_key_file": service_key_file(tmp_path)}
        return make_settings(
            storage_url, teams=teams, server={"public_url": PUBLIC_URL}, reminders={"sync_interval_minutes": 0},
            therapists=therapists, clients=clients,
        )

    return make


async def start(aiohttp_client, settings, subscribe=True):
    app = create_app(settings)
    client = await aiohttp_client(app)
    if subscribe:
        resource = f"communications/onlineMeetings(joinWebUrl='{JOIN_URL}')/meetingCallEvents"
        sub = Subscription(SUB_ID, "teams", "t1", join_url_key(JOIN_URL), resource, T0 + timedelta(days=2), JOIN_URL, T0 + timedelta(hours=1))
        await app[teams_keys.SUBSCRIPTIONS].put(sub, STATE, T0)
    return client


def batch(entra, *payloads, state=STATE, tokens=None) -> dict:
    return {
        "value": [notification(SUB_ID, state, JOIN_URL, p, service_key()) for p in payloads],
        "validationTokens": [entra.mint()] if tokens is None else tokens,
    }


async def post(client, body, path="/webhooks/teams"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(path, data=raw, headers={"Content-Type": "application/json"})


async def sessions(client) -> list[dict]:
    await client.app[keys.EVALUATION].drain()
    response = await client.get("/api/sessions", params={"platform": "teams"}, headers={"Authorization": f"Bearer {TOKEN_A}"})
    return await response.json()


async def summary(client, session_id: str) -> dict:
    response = await client.get(f"/api/sessions/{session_id}/summary", headers={"Authorization": f"Bearer {TOKEN_A}"})
    assert response.status == 200
    return await response.json()


async def stored_rows(client) -> int:
    from sqlalchemy import func, select

    from bot.storage import schema

    async with client.app[keys.STORE].engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(schema.events))).scalar_one()


def call(n: int) -> list[dict]:
    """The notifications of one call: therapist in, client in the lobby then admitted, a visitor, reconnects, end."""
    return [
        call_event(JOIN_URL, "callStarted", at(0), f"n{n}-1"),
        call_event(JOIN_URL, "rosterUpdated", at(0.1), f"n{n}-2", [participant("p-ther", T1_ENTRA, "Therapist A")]),
        call_event(JOIN_URL, "rosterUpdated", at(1), f"n{n}-3", [participant("p-cli", CLIENT_ENTRA, "Client Person", lobby=True)]),
        call_event(JOIN_URL, "rosterUpdated", at(2), f"n{n}-4", [participant("p-cli", CLIENT_ENTRA, "Client Person")]),
        call_event(JOIN_URL, "rosterUpdated", at(20), f"n{n}-5", [participant("p-vis", None, "Unknown Visitor")]),
        call_event(JOIN_URL, "rosterUpdated", at(22), f"n{n}-6", [participant("p-vis", None, "Unknown Visitor", left=True), participant("p-ther", T1_ENTRA, "Therapist A")]),
        call_event(JOIN_URL, "rosterUpdated", at(49), f"n{n}-7", [participant("p-cli", CLIENT_ENTRA, "Client Person", left=True)]),
        call_event(JOIN_URL, "callEnded", at(50), f"n{n}-8"),
    ]


async def test_the_handshake_echoes_a_sane_token_as_plain_text(aiohttp_client, teams_settings):
    client = await start(aiohttp_client, teams_settings(), subscribe=False)
    for path in ("/webhooks/teams", "/webhooks/teams/lifecycle"):
        response = await client.post(path, params={"validationToken": "Validation: Testing client application reachability for subscription Request-Id: 8a1f"})
        assert response.status == 200 and response.content_type == "text/plain"
        assert await response.text() == "Validation: Testing client application reachability for subscription Request-Id: 8a1f"
        for bad in ("", "x" * 1025, "line\nbreak"):
            response = await client.post(path, params={"validationToken": bad})
            assert response.status == 400, bad


async def test_a_whole_call_becomes_one_session_with_the_right_roles_and_times(aiohttp_client, teams_settings, entra):
    client = await start(aiohttp_client, teams_settings())
    for payload in call(1):
        response = await post(client, batch(entra, payload))
        assert response.status == 202, await response.text()
    (listed,) = await sessions(client)
    result = await summary(client, listed["session_id"])
    assert result["client_code"] == "C-17"
    assert (result["started_at"], result["ended_at"]) == ("2025-03-04T14:00:00Z", "2025-03-04T14:50:00Z")
    roles = {p["role"]: p["intervals"] for p in result["participants"]}
    assert roles["therapist"] == [{"joined_at": "2025-03-04T14:00:06Z", "left_at": "2025-03-04T14:50:00Z"}]
    assert roles["client"] == [{"joined_at": "2025-03-04T14:02:00Z", "left_at": "2025-03-04T14:49:00Z"}]
    assert roles["other"] == [{"joined_at": "2025-03-04T14:20:00Z", "left_at": "2025-03-04T14:22:00Z"}]
    assert result["meeting"]["id"] == join_url_key(JOIN_URL) and JOIN_URL not in json.dumps(result)
    assert "third_party_joined" in {a["kind"] for a in result["alerts"]}


async def test_duplicates_change_nothing_and_a_restart_mid_call_rejoins_nobody(aiohttp_client, teams_settings, entra, sqlite_url):
    settings = teams_settings()
    client = await start(aiohttp_client, settings)
    deliveries = call(1)
    for payload in deliveries[:4]:
        assert (await post(client, batch(entra, payload))).status == 202
    before = await stored_rows(client)
    for payload in deliveries[:4]:
        assert (await post(client, batch(entra, payload))).status == 202
    assert await stored_rows(client) == before
    await client.close()

    client = await start(aiohttp_client, settings, subscribe=False)
    # Graph says again who is in the call (state changes arrive as deltas): nobody joins twice.
    again = call_event(JOIN_URL, "rosterUpdated", at(30), "n-again", [participant("p-cli", CLIENT_ENTRA, "Client Person"), participant("p-ther", T1_ENTRA, "Therapist A")])
    assert (await post(client, batch(entra, again))).status == 202
    assert await stored_rows(client) == before
    for payload in deliveries[6:]:
        assert (await post(client, batch(entra, payload))).status == 202
    (listed,) = await sessions(client)
    result = await summary(client, listed["session_id"])
    assert len(result["participants"]) == 2 and result["ended_at"] == "2025-03-04T14:50:00Z"


async def test_the_next_call_on_the_same_link_is_a_new_session(aiohttp_client, teams_settings, entra):
    client = await start(aiohttp_client, teams_settings())
    first = call(1)
    second = [{**p, "eventDateTime": at(7 * 24 * 60 + i)} for i, p in enumerate(call(2))]
    response = await post(client, batch(entra, *first))  # a batch of notifications, as Graph may send them
    assert response.status == 202
    for payload in second:
        assert (await post(client, batch(entra, payload))).status == 202
    listed = await sessions(client)
    assert len(listed) == 2 and {s["status"] for s in listed} == {"ended"}


async def test_a_call_first_heard_of_by_its_roster_is_one_session_when_its_start_comes_late(aiohttp_client, teams_settings, entra):
    client = await start(aiohttp_client, teams_settings())
    deliveries = call(1)
    for payload in deliveries[1:4] + deliveries[:1]:
        assert (await post(client, batch(entra, payload))).status == 202
    (listed,) = await sessions(client)
    assert (await summary(client, listed["session_id"]))["started_at"] == "2025-03-04T14:00:00Z"


def _tamper_signature(body: dict) -> dict:
    content = body["value"][0]["encryptedContent"]
    content["dataSignature"] = ("A" if content["dataSignature"][0] != "A" else "B") + content["dataSignature"][1:]
    return body


@pytest.mark.parametrize(
    "spoil",
    [
        lambda entra, body: {**body, "value": [{**body["value"][0], "clientState": STATE + "x"}]},
        lambda entra, body: {**body, "value": [{**body["value"][0], "clientState": None}]},
        lambda entra, body: {**body, "value": [{**body["value"][0], "subscriptionId": "other-subscription"}]},
        lambda entra, body: {**body, "validationTokens": []},
        lambda entra, body: {**body, "validationTokens": [entra.mint(lifetime=-600)]},
        lambda entra, body: {**body, "validationTokens": [entra.mint(aud="another-app")]},
        lambda entra, body: {**body, "validationTokens": [entra.mint(iss="https://login.microsoftonline.com/other-tenant/v2.0")]},
        lambda entra, body: {**body, "validationTokens": [entra.mint(kid="unpublished")]},
        lambda entra, body: {**body, "validationTokens": [entra.mint(azp="some-other-app")]},
        lambda entra, body: {**body, "validationTokens": [entra.mint(), entra.mint(lifetime=-600)]},
        lambda entra, body: _tamper_signature(body),
    ],
    ids=["wrong-state", "no-state", "unknown-subscription", "no-tokens", "expired-jwt", "foreign-audience",
         "foreign-issuer", "unknown-kid", "not-graph", "one-bad-token", "tampered-signature"],
)
async def test_refused_notifications_get_4xx_and_store_nothing(aiohttp_client, teams_settings, entra, spoil):
    client = await start(aiohttp_client, teams_settings())
    body = spoil(entra, batch(entra, call(1)[0]))
    response = await post(client, body)
    assert 400 <= response.status < 500
    assert "reason" in await response.json()
    assert await stored_rows(client) == 0 and await sessions(client) == []


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'{"value": []}', b'{"value": [1]}', b'{"value": {}}', b"\xff\xfe"])
async def test_malformed_bodies_get_400_with_a_reason(aiohttp_client, teams_settings, raw):
    client = await start(aiohttp_client, teams_settings())
    for path in ("/webhooks/teams", "/webhooks/teams/lifecycle"):
        response = await post(client, raw, path)
        assert response.status == 400 and (await response.json())["reason"]


async def test_notifications_are_acknowledged_well_under_three_seconds(aiohttp_client, teams_settings, entra):
    client = await start(aiohttp_client, teams_settings())
    assert (await post(client, batch(entra, call(1)[0]))).status == 202  # the keys are fetched once, first
    timings = []
    for payload in call(1)[1:]:
        body = batch(entra, payload)
        started = time.perf_counter()
        assert (await post(client, body)).status == 202
        timings.append(time.perf_counter() - started)
    assert max(timings) < 0.5, timings


async def test_lifecycle_notifications_are_verified_then_handed_to_the_subscription_manager(aiohttp_client, teams_settings, entra, monkeypatch):
    client = await start(aiohttp_client, teams_settings())
    calls: list[tuple[str, str]] = []

    async def reauthorize(subscription: Subscription) -> bool:
        calls.append(("reauthorize", subscription.subscription_id))
        return True

    async def resubscribe(subscription: Subscription) -> str | None:
        calls.append(("resubscribe", subscription.subscription_id))
        return None

    manager = client.app[teams_keys.LIFECYCLE]  # the app's subscription manager; Graph itself is not in this test
    monkeypatch.setattr(manager, "reauthorize", reauthorize)
    monkeypatch.setattr(manager, "resubscribe", resubscribe)

    def lifecycle(event: str, state: str = STATE) -> dict:
        return {"value": [{"subscriptionId": SUB_ID, "subscriptionExpirationDateTime": at(60), "tenantId": "tenant-7f3a", "clientState": state, "lifecycleEvent": event}]}

    assert (await post(client, lifecycle("reauthorizationRequired", STATE + "x"), "/webhooks/teams/lifecycle")).status == 401
    for event in ("reauthorizationRequired", "subscriptionRemoved", "missed"):
        assert (await post(client, lifecycle(event), "/webhooks/teams/lifecycle")).status == 202
    body = {**lifecycle("reauthorizationRequired"), "validationTokens": [entra.mint(aud="another-app")]}
    assert (await post(client, body, "/webhooks/teams/lifecycle")).status == 401
    await asyncio.sleep(0)
    assert calls == [("reauthorize", SUB_ID), ("resubscribe", SUB_ID)]
