"""Microsoft Teams: meetings from therapists' calendars, their call events in through Graph, the client's camera through a
calling bot, private alerts out to the activity feed."""
from __future__ import annotations

import asyncio
from typing import AsyncIterator, Callable

import aiohttp
from aiohttp import web

from bot.core.settings import Settings
from bot.services import Services

from .const import CALLS_PATH, LIFECYCLE_PATH, WEBHOOK_PATH

# The Graph client, msal, the calling bot and the certificates load in `setup`, when the settings use
# Teams: a service without Teams does not pay for importing them at every start.

ACTIVITY_CHANNEL = "teams_activity"


def meets_on_teams(settings: Settings) -> bool:
    """Return whether some therapist meets clients on Teams (has a teams_user_id)."""
    return any(t.teams_user_id for t in settings.therapists)


def enabled(settings: Settings) -> bool:
    """Return whether the settings use Teams: some therapist meets on Teams, or has notices sent to the activity feed."""
    return meets_on_teams(settings) or ACTIVITY_CHANNEL in settings.enabled_channels()


def setup(app: web.Application, services: Services) -> None:
    """Run one Graph client (one HTTP session, one msal app) and the activity channel on it, and Teams meetings if any.

    For meetings the service key, the subscription manager and the calendar sync start first; the webhook
    starts after them, since it reads what they set (the decryption keys, the store, the lifecycle).
    """
    from . import keys
    from .bot_callbacks import BotCallbacks
    from .client import GraphToken, TeamsActivity, TimeoutSession
    from .graph import GraphClient
    from .webhook import TeamsWebhook

    settings = services.settings

    async def graph(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as http:
            with TimeoutSession() as auth_http:
                token = GraphToken(settings.teams, auth_http)
                app[keys.GRAPH] = GraphClient(settings.teams, http, token)
                if ACTIVITY_CHANNEL in settings.enabled_channels():
                    services.channels[ACTIVITY_CHANNEL] = TeamsActivity(settings.teams, http, token).send
                yield

    app.cleanup_ctx.append(graph)
    if meets_on_teams(settings):
        app.cleanup_ctx.append(_meetings(services))
        webhook = TeamsWebhook(services)  # refuses to exist without [teams] client_id and tenant_id
        app.router.add_post(WEBHOOK_PATH, webhook.notifications)
        app.router.add_post(LIFECYCLE_PATH, webhook.lifecycle)
        app.cleanup_ctx.append(webhook.run)
        callbacks = BotCallbacks(services)  # the calling bot's callbacks (camera tracking)
        app.router.add_post(CALLS_PATH, callbacks.handle)
        app.cleanup_ctx.append(callbacks.run)
        app.cleanup_ctx.append(_calling_bot(services))


def _meetings(services: Services) -> Callable[[web.Application], AsyncIterator[None]]:
    """Return the cleanup context of the service key, the meeting subscriptions and the calendar sync."""
    from bot.storage.subscriptions import SubscriptionStore

    from . import keys
    from .certificate import load_service_key
    from .subscriptions import SubscriptionManager
    from .sync import TeamsMeetingSync

    settings = services.settings

    async def meetings(app: web.Application) -> AsyncIterator[None]:
        app[keys.SERVICE_KEY] = key = await asyncio.to_thread(load_service_key, settings)
        app[keys.DECRYPTION_KEYS] = {key.certificate_id: key.private_key}  # by id: an old key could stay during a rollover
        app[keys.SUBSCRIPTIONS] = store = SubscriptionStore(services.tracker.store.engine)
        app[keys.LIFECYCLE] = manager = SubscriptionManager(settings, app[keys.GRAPH], store, key, services.clock)
        app[keys.MEETING_SYNC] = sync = TeamsMeetingSync(settings, app[keys.GRAPH], services.timekeeper, services.clock, manager)
        if minutes := settings.reminders.sync_interval_minutes:
            services.scheduler.every(minutes, "teams-meeting-sync", sync.sync_all)
            services.scheduler.every(minutes, "teams-subscription-renewal", manager.maintain, now=False)
        yield

    return meetings


def _calling_bot(services: Services) -> Callable[[web.Application], AsyncIterator[None]]:
    """Return the cleanup context of the calling bot (after the meetings': it reads their join URLs through Graph's client)."""
    from bot.storage.bot_calls import BotCallStore

    from . import keys
    from .calling_bot import CallingBot

    async def calling_bot(app: web.Application) -> AsyncIterator[None]:
        calls = BotCallStore(services.tracker.store.engine)
        app[keys.CALLING_BOT] = bot = CallingBot(services, app[keys.GRAPH], app[keys.SUBSCRIPTIONS], calls)
        await bot.start()
        yield
        await bot.stop()

    return calling_bot
