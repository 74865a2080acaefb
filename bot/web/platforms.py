"""The platforms meetings come from: each is set up with the app and the service's parts, if the settings use it."""
from __future__ import annotations

from typing import Protocol

from aiohttp import web

import integrations.teams
import integrations.zoom
from bot.core.settings import Settings
from bot.services import Services


class Platform(Protocol):
    """What every `integrations/<platform>/__init__.py` offers (Home Assistant's `async_setup_entry`, in small)."""

    def enabled(self, settings: Settings) -> bool: ...

    def setup(self, app: web.Application, services: Services) -> None: ...


# Adding a platform: write integrations/<name>/ with `enabled` and `setup`, and add it here.
PLATFORMS: tuple[Platform, ...] = (integrations.zoom, integrations.teams)


def setup_platforms(app: web.Application, services: Services) -> None:
    """Set up every platform the settings use: its routes, and what it runs while the app runs."""
    for platform in PLATFORMS:
        if platform.enabled(services.settings):
            platform.setup(app, services)
