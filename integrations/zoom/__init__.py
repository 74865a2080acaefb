"""Zoom: signed webhooks in, the client's video over RTMS, meeting plans and Team Chat alerts through the API."""
from __future__ import annotations

from typing import AsyncIterator

import aiohttp
from aiohttp import web

from bot.core.settings import Settings
from bot.services import Services
from bot.storage.stream_leases import StreamLeases

from . import keys
from .chat import ZoomChat
from .client import ZoomApi
from .directory import ZoomDirectory
from .rtms import RtmsTiming, StreamManager, rtms_http
from .signature import SignatureVerifier
from .sync import MeetingSync
from .webhook import ZoomWebhook

CHAT_CHANNEL = "zoom_chat"


def enabled(settings: Settings) -> bool:
    """Return whether the settings take Zoom meetings: a webhook secret is set (the settings require one)."""
    return bool(settings.zoom.webhook_secret_token)


def setup(app: web.Application, services: Services) -> None:
    """Add Zoom's webhook route, and run its meeting sync, RTMS streams and chat channel with the app."""
    settings = services.settings
    webhook = ZoomWebhook(SignatureVerifier(settings.zoom.webhook_secret_token), services)  # refuses an empty secret
    app.router.add_post("/webhooks/zoom", webhook.handle)

    async def meeting_sync(app: web.Application) -> AsyncIterator[None]:
        sync = MeetingSync(settings, ZoomApi(settings.zoom), services.timekeeper)
        app[keys.MEETING_SYNC] = webhook.sync = sync
        if minutes := settings.reminders.sync_interval_minutes:
            services.scheduler.every(minutes, "zoom-meeting-sync", sync.sync_all)
        yield
        await sync.close()

    async def rtms_streams(app: web.Application) -> AsyncIterator[None]:
        async with rtms_http(settings.zoom.rtms_max_streams) as http:
            timing = app.get(keys.RTMS_TIMING, RtmsTiming())
            engine = services.tracker.store.engine
            # SQLite: one instance, which takes every lease whatever a killed process of its own left.
            leases = StreamLeases(engine, services.instance, sole=engine.dialect.name != "postgresql")
            streams = StreamManager(
                settings.zoom, services.tracker, services.evaluation, services.frames, http, timing, services.metrics,
                leases, settings.cluster.failover_seconds, services.cluster,
            )
            app[keys.RTMS] = streams
            services.stored.subscribe(streams.stored)
            await streams.start()
            yield
            services.stored.unsubscribe(streams.stored)
            await streams.stop()

    async def chat_channel(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as http:
            # Its own API client, without in-call retries: the outbox decides when to try again.
            directory = ZoomDirectory(ZoomApi(settings.zoom, retries=0))
            services.channels[CHAT_CHANNEL] = ZoomChat(settings.zoom, http, directory).send
            yield

    app.cleanup_ctx.append(meeting_sync)
    app.cleanup_ctx.append(rtms_streams)
    if CHAT_CHANNEL in settings.enabled_channels():
        app.cleanup_ctx.append(chat_channel)
