"""The platform seam (bot/web/platforms.py): a platform plugs in with `enabled` and `setup` alone, handed the service's parts."""
from __future__ import annotations

import types
from datetime import datetime, timezone
from typing import AsyncIterator

from aiohttp import web

import integrations.teams
import integrations.zoom
from bot.core import events as ev
from bot.services import Services
from bot.web import keys, platforms
from bot.web.app import create_app
from tests.conftest import APP_SECRET, TOKEN_A, TOKEN_B

T1_ENTRA = "5f1c7f55-0c5e-4b8e-9d4b-3a0e6f2d9a11"
AT = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)


def fake_platform(seen: dict[str, object]) -> types.ModuleType:
    """A platform written against the seam only, as the coming Teams meetings adapter will be."""
    module = types.ModuleType("integrations.fake")

    def enabled(settings) -> bool:
        return True

    def setup(app: web.Application, services: Services) -> None:
        seen["set_up_with"] = services

        async def webhook(request: web.Request) -> web.Response:
            meeting = ev.MeetingRef("teams", "occurrence-1", "meeting-1", host_id=T1_ENTRA)
            keyed = [("fake:1", ev.MeetingStarted(meeting=meeting, at=AT))]
            session_id = (await services.tracker.record(meeting, keyed)).session_id
            services.evaluation.submit(session_id)
            services.stored.publish(meeting, [event for _, event in keyed])
            return web.json_response({"session_id": session_id})

        async def running(app: web.Application) -> AsyncIterator[None]:
            # Everything the platform may need is there once its own context starts.
            seen["at_start"] = (services.tracker, services.timekeeper, services.scheduler, services.evaluation, services.frames)
            yield

        app.router.add_post("/webhooks/fake", webhook)
        app.cleanup_ctx.append(running)

    module.enabled, module.setup = enabled, setup
    return module


async def test_a_new_platform_plugs_in_through_setup_alone(aiohttp_client, make_settings, monkeypatch):
    seen: dict[str, object] = {}
    monkeypatch.setattr(platforms, "PLATFORMS", (*platforms.PLATFORMS, fake_platform(seen)))
    therapists = [
        {"id": "t1", "name": "Therapist A", "api_token": TOKEN_A, "teams_user_id": T1_ENTRA},
        {"id": "t2", "name": "Therapist B", "api_token": TOKEN_B},
    ]
    # A therapist on Teams needs the Entra app and a public URL; no sync runs against them here.
    teams = {"tenant_id": "t", "client_id": "c", "client_secret": APP_SECRET}
    app = create_app(make_settings(therapists=therapists, teams=teams, server={"public_url": "https://c"}, reminders={"sync_interval_minutes": 0}))
    assert seen["set_up_with"] is app[keys.SERVICES]
    heard: list[ev.MeetingRef] = []
    app[keys.SERVICES].stored.subscribe(lambda meeting, events: heard.append(meeting))
    client = await aiohttp_client(app)
    assert seen["at_start"] == (app[keys.TRACKER], app[keys.TIMEKEEPER], app[keys.SCHEDULER], app[keys.EVALUATION], app[keys.FRAMES])

    response = await client.post("/webhooks/fake")
    session_id = (await response.json())["session_id"]
    assert session_id and [m.platform for m in heard] == ["teams"]
    mine = await client.get(f"/api/sessions/{session_id}", headers={"Authorization": f"Bearer {TOKEN_A}"})
    assert mine.status == 200 and (await mine.json())["platform"] == "teams"
    theirs = await client.get(f"/api/sessions/{session_id}", headers={"Authorization": f"Bearer {TOKEN_B}"})
    assert theirs.status == 404


async def test_only_the_platforms_the_settings_use_are_set_up(aiohttp_client, make_settings):
    settings = make_settings()
    assert integrations.zoom.enabled(settings) and not integrations.teams.enabled(settings)
    client = await aiohttp_client(create_app(settings))
    assert {r.resource.canonical for r in client.app.router.routes() if r.method == "POST"} >= {"/webhooks/zoom"}
    assert client.app[keys.SERVICES].channels == {}  # no therapist asked for Zoom chat or Teams


async def test_a_platform_offers_its_channel_only_when_a_therapist_uses_it(aiohttp_client, make_settings, fake_graph):
    therapists = [{"id": "t1", "name": "Therapist A", "api_token": TOKEN_A, "teams_user_id": T1_ENTRA, "channels": ["dashboard", "teams_activity"]}]
    settings = make_settings(teams=fake_graph.settings(), therapists=therapists, clients=[], server={"public_url": "https://companion.example.org"})
    assert integrations.teams.enabled(settings)
    client = await aiohttp_client(create_app(settings))
    assert set(client.app[keys.SERVICES].channels) == {"teams_activity"}
