"""Microsoft Teams: private alerts through the Graph activity feed (meetings and live tracking arrive later)."""
from __future__ import annotations

from typing import AsyncIterator

import aiohttp
from aiohttp import web

from bot.core.settings import Settings
from bot.services import Services

from .client import GraphToken, TeamsActivity, TimeoutSession

ACTIVITY_CHANNEL = "teams_activity"


def enabled(settings: Settings) -> bool:
    """Return whether the settings use Teams: some therapist's notices go to the activity feed."""
    return ACTIVITY_CHANNEL in settings.enabled_channels()


def setup(app: web.Application, services: Services) -> None:
    """Run the activity-feed channel with the app: one HTTP session and one msal app for every therapist."""
    settings = services.settings

    async def activity_channel(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as http:
            with TimeoutSession() as auth_http:
                token = GraphToken(settings.teams, auth_http)
                services.channels[ACTIVITY_CHANNEL] = TeamsActivity(settings.teams, http, token).send
                yield

    app.cleanup_ctx.append(activity_channel)
