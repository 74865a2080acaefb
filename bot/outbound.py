"""Own what sends notices out: the HTTP sessions, each platform's channel, and the delivery workers."""
from __future__ import annotations

from typing import AsyncIterator

import aiohttp
from aiohttp import web

from integrations.teams.client import GraphToken, TeamsActivity, TimeoutSession
from integrations.zoom.chat import ZoomChat
from integrations.zoom.directory import ZoomDirectory

from . import keys
from .delivery import ChannelWorker, Deliveries, Send
from .message import AlertMessage, compose, private_words
from .outbox import Outbox
from .settings import Settings
from .store import NoticeRow


def channel_senders(settings: Settings, http: aiohttp.ClientSession, auth_http: TimeoutSession) -> dict[str, Send]:
    """Return a sender for every outbound channel some therapist has enabled."""
    enabled = {channel for therapist in settings.therapists for channel in therapist.channels}
    senders: dict[str, Send] = {}
    if "zoom_chat" in enabled:
        senders["zoom_chat"] = ZoomChat(settings.zoom, http, ZoomDirectory(settings.zoom)).send
    if "teams_activity" in enabled:
        senders["teams_activity"] = TeamsActivity(settings.teams, http, GraphToken(settings.teams, auth_http)).send
    return senders


async def outbound_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the outbox for the app's lifetime: deliveries left pending by a restart resume at once."""
    settings, tracker = app[keys.SETTINGS], app[keys.TRACKER]
    outbox = Outbox(app[keys.STORE].engine)
    app[keys.OUTBOX] = outbox

    async def message_for(notice: NoticeRow) -> AlertMessage:
        code = None
        row = await tracker.store.session(notice.session_id) if notice.session_id else None
        if row is not None:
            code = (await tracker.view(row)).summary["client_code"]
        words = private_words(settings, notice.therapist_id)
        return compose(notice.id, notice.kind, notice.session_id, notice.message, code, settings.server.public_url, words)

    async with aiohttp.ClientSession() as http:
        with TimeoutSession() as auth_http:
            workers = [
                ChannelWorker(channel, send, settings.therapist, message_for, outbox, app[keys.BOARD], app[keys.CLOCK])
                for channel, send in channel_senders(settings, http, auth_http).items()
            ]
            deliveries = Deliveries(workers, app[keys.BOARD])
            app[keys.DELIVERIES] = deliveries
            deliveries.start()
            yield
            await deliveries.stop()
