"""Build the web application: routes, and every resource it owns as a cleanup context."""
from __future__ import annotations

import gc
from datetime import datetime, timedelta, timezone
from typing import AsyncIterator

import aiohttp
from aiohttp import web

from bot.core.settings import Settings
from bot.delivery.channels import outbound_ctx
from bot.storage.due_store import DueStore
from bot.storage.store import Store, create_engine
from bot.timekeeping.scheduler import DueWorkScheduler
from bot.timekeeping.timekeeper import Timekeeper
from bot.tracking.evaluation import EvaluationQueue
from bot.tracking.frames import FramePipeline
from bot.tracking.notice_board import NoticeBoard
from bot.tracking.stored_events import StoredEvents
from bot.tracking.tracker import Clock, SessionTracker
from integrations.zoom.client import ZoomApi
from integrations.zoom.const import MAX_WEBHOOK_BYTES
from integrations.zoom.rtms import RtmsTiming, StreamManager
from integrations.zoom.signature import SignatureVerifier
from integrations.zoom.sync import MEETING_SYNC, MeetingSync
from integrations.zoom.webhook import VERIFIER, zoom_webhook

from . import api, checklist_api, keys, stream

RECENT = timedelta(hours=24)


def utc_now() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(timezone.utc)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _storage(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[keys.SETTINGS].storage.url)
    store = Store(engine, app[keys.SETTINGS].channels_for)
    await store.upgrade()
    app[keys.STORE] = store
    app[keys.BOARD] = NoticeBoard(store)
    app[keys.TRACKER] = SessionTracker(app[keys.SETTINGS], store, app[keys.BOARD], app[keys.CLOCK])
    yield
    await store.close()
    await engine.dispose()
    if engine.dialect.name == "sqlite":
        # A connection abandoned by a task cancelled at shutdown (aiosqlite) keeps SQLite's write
        # lock until it is collected: collect now, so a service started again in-process can write.
        gc.collect()


async def _timers(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    scheduler = DueWorkScheduler(settings.storage.url)
    timekeeper = Timekeeper(app[keys.TRACKER], DueStore(app[keys.STORE]), scheduler)
    sync = MeetingSync(settings, ZoomApi(settings.zoom), timekeeper)
    app[keys.SCHEDULER], app[keys.TIMEKEEPER], app[MEETING_SYNC] = scheduler, timekeeper, sync
    app[keys.TRACKER].after_evaluation.append(timekeeper.after_evaluation)
    scheduler.start(timekeeper.fire)  # paused until the stored jobs match the pending rows
    await timekeeper.reconcile()
    if minutes := settings.reminders.sync_interval_minutes:
        scheduler.every(minutes, "zoom-meeting-sync", sync.sync_all)
        scheduler.every(minutes, "reconcile-due-work", timekeeper.reconcile, now=False)  # just done
    scheduler.resume()
    yield
    await sync.close()
    await scheduler.shutdown()


async def _evaluation(app: web.Application) -> AsyncIterator[None]:
    queue = EvaluationQueue(app[keys.TRACKER])
    app[keys.EVALUATION] = queue
    queue.start()
    # An event acknowledged just before a crash may not have been judged: judge recent sessions again.
    since = app[keys.CLOCK]() - RECENT
    for session_id in await app[keys.STORE].sessions_heard_since(since):
        queue.submit(session_id)
    yield
    await queue.stop()


async def _frames(app: web.Application) -> AsyncIterator[None]:
    pipeline = FramePipeline()
    app[keys.FRAMES] = pipeline
    pipeline.start()
    yield
    await pipeline.stop()


async def _rtms(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession() as http:
        timing = app.get(keys.RTMS_TIMING, RtmsTiming())
        streams = StreamManager(app[keys.SETTINGS].zoom, app[keys.TRACKER], app[keys.EVALUATION], app[keys.FRAMES], http, timing)
        app[keys.RTMS] = streams
        app[keys.STORED].subscribe(streams.stored)
        await streams.start()
        yield
        app[keys.STORED].unsubscribe(streams.stored)
        await streams.stop()


def create_app(settings: Settings, clock: Clock = utc_now) -> web.Application:
    """Return the service's application; nothing connects until it starts."""
    app = web.Application(client_max_size=MAX_WEBHOOK_BYTES)
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = clock
    app[VERIFIER] = SignatureVerifier(settings.zoom.webhook_secret_token)
    app[keys.STORED] = StoredEvents()
    app.cleanup_ctx.append(_storage)
    app.cleanup_ctx.append(_timers)
    app.cleanup_ctx.append(_evaluation)
    app.cleanup_ctx.append(_frames)
    app.cleanup_ctx.append(_rtms)
    app.cleanup_ctx.append(outbound_ctx)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/webhooks/zoom", zoom_webhook)
    app.router.add_routes(api.routes)
    app.router.add_routes(checklist_api.routes)
    stream.setup(app)
    return app
