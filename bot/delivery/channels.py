"""Own what sends notices out: the HTTP sessions, each platform's channel, and the delivery workers."""
from __future__ import annotations

from collections import OrderedDict
from typing import AsyncIterator

import aiohttp
from aiohttp import web

from bot.core.message import AlertMessage, compose, private_words
from bot.core.settings import Settings
from bot.storage.notices import NoticeRow
from bot.storage.outbox import Outbox
from bot.tracking.tracker import SessionTracker
from bot.web import keys
from integrations.teams.client import GraphToken, TeamsActivity, TimeoutSession
from integrations.zoom.chat import ZoomChat
from integrations.zoom.client import ZoomApi
from integrations.zoom.directory import ZoomDirectory

from .workers import ChannelWorker, Deliveries, Send


class ClientCodes:
    """Each session's client pseudonym, remembered once known: a matched profile does not change."""

    def __init__(self, tracker: SessionTracker, size: int = 4096) -> None:
        self._tracker = tracker
        self._size = size
        self._known: OrderedDict[str, str] = OrderedDict()

    async def code(self, session_id: str) -> str | None:
        """Return the client's code in a session, or None while no profile matches."""
        if session_id in self._known:
            self._known.move_to_end(session_id)
            return self._known[session_id]
        row = await self._tracker.store.session(session_id)
        code = (await self._tracker.view(row)).summary["client_code"] if row is not None else None
        if code is not None:
            self._known[session_id] = code
            if len(self._known) > self._size:
                self._known.popitem(last=False)
        return code


def channel_senders(settings: Settings, http: aiohttp.ClientSession, auth_http: TimeoutSession) -> dict[str, Send]:
    """Return a sender for every outbound channel some therapist has enabled."""
    enabled = {channel for therapist in settings.therapists for channel in therapist.channels}
    senders: dict[str, Send] = {}
    if "zoom_chat" in enabled:
        # Its own API client, without in-call retries: the outbox decides when to try again.
        senders["zoom_chat"] = ZoomChat(settings.zoom, http, ZoomDirectory(ZoomApi(settings.zoom, retries=0))).send
    if "teams_activity" in enabled:
        senders["teams_activity"] = TeamsActivity(settings.teams, http, GraphToken(settings.teams, auth_http)).send
    return senders


async def outbound_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the outbox for the app's lifetime: deliveries left pending by a restart resume at once."""
    settings, tracker = app[keys.SETTINGS], app[keys.TRACKER]
    outbox = Outbox(app[keys.STORE].engine)
    app[keys.OUTBOX] = outbox

    codes = ClientCodes(tracker)

    async def message_for(notice: NoticeRow) -> AlertMessage:
        code = await codes.code(notice.session_id) if notice.session_id else None
        words = private_words(settings, notice.therapist_id)
        return compose(
            notice.id, notice.kind, notice.session_id, notice.message, code, settings.server.public_url, words, notice.key
        )

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
            await outbox.close()
