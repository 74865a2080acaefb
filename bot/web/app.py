"""Build the web application: routes, and every resource it owns as a cleanup context."""
from __future__ import annotations

import functools
import gc
import os
import secrets
import socket
from datetime import timedelta
from typing import AsyncIterator

from aiohttp import web
from aiohttp.log import access_logger
from aiohttp.typedefs import Middleware

from bot.config.log_levels import quiet_libraries
from bot.core.settings import Settings
from bot.delivery.hand_off import Deliveries
from bot.delivery.messages import MessageWriter
from bot.delivery.workers import ChannelWorker
from bot.framing import framing_sink
from bot.services import Services
from bot.storage.at_rest import AtRest
from bot.storage.change_notes import CHANGES_CHANNEL, ChangeNotes
from bot.storage.cluster_link import ClusterLink
from bot.storage.due_store import DueStore
from bot.storage.notices import NOTICES_CHANNEL
from bot.storage.outbox import Outbox
from bot.storage.sign_ins import SignInRecords
from bot.storage.store import Store, create_engine
from bot.storage.stream_tickets import StreamTickets
from bot.timekeeping.leadership import Leadership
from bot.timekeeping.purge import PLAN_EVERY_MINUTES, DailyPurge
from bot.timekeeping.scheduler import DueWorkScheduler
from bot.timekeeping.timekeeper import Timekeeper
from bot.tracking.evaluation import EvaluationQueue
from bot.tracking.frames import DEFAULT_QUEUE_FRAMES, FramePipeline
from bot.tracking.notice_board import NoticeBoard
from bot.tracking.session_listing import SessionListing
from bot.tracking.shared_changes import SharedChanges
from bot.tracking.tracker import Clock, SessionTracker, utc_now

from . import api, checklist_api, clients_api, health, keys, metrics, notes_api, pages, stream
from .headers import answer_headers
from .limits import request_limits
from .logs import quiet_server_logs
from .pages.errors import as_page
from .platforms import setup_platforms
from .proxies import trusted_proxies
from .request_ids import request_ids
from .signed_in import sign_in_middleware
from .webhook_lines import WebhookLines

MAX_REQUEST_BYTES = 1024 * 1024  # no route takes a larger body; a platform's webhook may bound its own lower
RECENT = timedelta(hours=24)


async def _storage(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    at_rest = AtRest.from_settings(settings.privacy)  # no key: the service does not start (KeyProblem says how to make one)
    engine = create_engine(settings.storage.url)
    store = Store(engine, at_rest, settings.channels_for)
    instruments = app[keys.METRICS]
    try:
        await store.upgrade()  # keys that are not this database's: KeyProblem, and the service does not start
    except BaseException:
        await store.close()
        await engine.dispose()
        raise
    app[keys.STORE] = store
    # Several instances on one PostgreSQL database: each its own link, started by `_cluster` once every part listens.
    link_check = max(1.0, settings.cluster.failover_seconds / 5)
    app[keys.CLUSTER] = ClusterLink(settings.storage.url, link_check, app[keys.INSTANCE]) if engine.dialect.name == "postgresql" else None
    app[keys.SERVICES].cluster = app[keys.CLUSTER]
    app[keys.BOARD] = NoticeBoard(store, instruments)
    app[keys.SIGN_INS] = SignInRecords(engine)
    app[keys.STREAM_TICKETS] = StreamTickets(engine)
    app[keys.TRACKER] = app[keys.SERVICES].tracker = SessionTracker(app[keys.SETTINGS], store, app[keys.BOARD], app[keys.CLOCK], metrics=instruments)
    yield
    await store.close()
    await engine.dispose()
    if engine.dialect.name == "sqlite":
        # A connection abandoned by a task cancelled at shutdown (aiosqlite) keeps SQLite's write
        # lock until it is collected: collect now, so a service started again in-process can write.
        gc.collect()


async def _notices_everywhere(app: web.Application) -> AsyncIterator[None]:
    """With several instances, tell this one's listeners every instance's notices and changes, and share its own."""
    link, board = app[keys.CLUSTER], app[keys.BOARD]
    if link is None:  # SQLite: the one instance hears its own in memory
        yield
        return
    await board.follow()  # before anything here raises a notice
    changes = SharedChanges(board, ChangeNotes(app[keys.STORE].engine))
    link.listen(NOTICES_CHANNEL, board.heard)
    link.when_linked(board.linked)
    link.listen(CHANGES_CHANNEL, changes.heard)
    changes.start()
    yield
    await changes.stop()
    await board.stop_following()


async def _timers(app: web.Application) -> AsyncIterator[None]:
    settings, services = app[keys.SETTINGS], app[keys.SERVICES]
    scheduler = DueWorkScheduler()
    timekeeper = Timekeeper(app[keys.TRACKER], DueStore(app[keys.STORE]), scheduler, judge=app[keys.EVALUATION].judged)
    app[keys.SCHEDULER] = services.scheduler = scheduler
    app[keys.TIMEKEEPER] = services.timekeeper = timekeeper
    app[keys.PURGE] = purge = DailyPurge(timekeeper)
    app[keys.TRACKER].after_evaluation.append(timekeeper.after_evaluation)
    app[keys.TRACKER].after_evaluation.append(SessionListing(app[keys.TRACKER]).keep)  # the session list's row
    scheduler.start(timekeeper.fire, timekeeper.catch_up)  # paused until the leader has planned the pending rows
    scheduler.every(PLAN_EVERY_MINUTES, "plan-retention-purge", purge.plan, now=False)
    if minutes := settings.reminders.sync_interval_minutes:
        scheduler.every(minutes, "reconcile-due-work", timekeeper.reconcile, now=False)  # done on taking the lead
    # Leading plans today's purge too: in the database before any request, it runs once resumed, unless done.
    leadership = Leadership(
        timekeeper, scheduler, app[keys.CLUSTER], settings.cluster.failover_seconds, purge.plan, app[keys.INSTANCE],
        recover=functools.partial(_judge_recent, app),  # as at a start: what a dead instance stored may not be judged
    )
    app[keys.LEADERSHIP] = leadership
    app[keys.METRICS].leader.set_function(lambda: int(leadership.leader))
    await leadership.start()  # on SQLite it leads now; on PostgreSQL it tries once `_cluster` has linked
    yield
    await leadership.stop()
    await scheduler.shutdown()


async def _cluster(app: web.Application) -> AsyncIterator[None]:
    """Open the instance's PostgreSQL link once every part listens on it, and wait for the first try for the lead."""
    cluster = app[keys.CLUSTER]
    if cluster is None:
        yield
        return
    cluster.start()
    await app[keys.LEADERSHIP].tried(app[keys.SETTINGS].cluster.failover_seconds)
    yield
    await app[keys.LEADERSHIP].stop()  # stand by before the lock goes with the link: never two leaders from here
    await cluster.stop()


async def _evaluation(app: web.Application) -> AsyncIterator[None]:
    queue = EvaluationQueue(app[keys.TRACKER])
    app[keys.EVALUATION] = app[keys.SERVICES].evaluation = queue
    app[keys.METRICS].evaluation_backlog.set_function(lambda: queue.depth)
    queue.start()
    yield
    await queue.stop()


async def _judge_recent(app: web.Application) -> None:
    # An event acknowledged just before a crash may not have been judged: judge recent sessions again. Asked
    # for once every part has started (on_startup runs after the cleanup contexts), so that the judging does
    # not hold up the start; and by the leader when another instance is gone, or it took the lead from it.
    since = app[keys.CLOCK]() - RECENT
    app[keys.EVALUATION].ask(await app[keys.STORE].sessions_heard_since(since))  # one the overdue timers asked for: judged once


async def _frames(app: web.Application) -> AsyncIterator[None]:
    # Every stream's frame may land in the same instant: the statistics lane holds one a stream, so none is lost to a burst.
    pipeline = FramePipeline(statistics_frames=max(DEFAULT_QUEUE_FRAMES, app[keys.SETTINGS].zoom.rtms_max_streams))
    app[keys.FRAMES] = app[keys.SERVICES].frames = pipeline
    app[keys.PURGE].purged.append(lambda removal: pipeline.statistics.forget(removal.session_ids))
    framing = framing_sink(app[keys.SETTINGS], app[keys.TRACKER], app[keys.EVALUATION])
    app[keys.SERVICES].framing = framing
    instruments = app[keys.METRICS]
    instruments.frames_dropped.read(lambda: pipeline.dropped, "queue")
    if framing is not None:
        pipeline.add_sink(framing)
        instruments.frames_analysed.read(lambda: framing.analyzer.analysed)
        instruments.frames_dropped.read(lambda: framing.analyzer.dropped, "analysis")
    pipeline.start()
    yield
    await pipeline.stop()
    if framing is not None:
        await framing.stop()


async def _deliveries(app: web.Application) -> AsyncIterator[None]:
    """Run the outbox: a worker for each channel the platforms offer; deliveries left pending resume at once."""
    settings, services = app[keys.SETTINGS], app[keys.SERVICES]
    outbox = Outbox(app[keys.STORE].engine)
    app[keys.OUTBOX] = outbox
    words = MessageWriter(settings, app[keys.TRACKER])
    workers = [
        ChannelWorker(channel, send, settings.therapist, words.message_for, outbox, app[keys.BOARD], app[keys.CLOCK], metrics=app[keys.METRICS])
        for channel, send in services.channels.items()
    ]
    deliveries = Deliveries(workers, app[keys.BOARD], settings.channels_for)
    app[keys.DELIVERIES] = deliveries
    deliveries.start()
    yield
    await deliveries.stop()
    await outbox.close()


async def _webhook_lines(app: web.Application) -> AsyncIterator[None]:
    """Sum the access lines of webhooks answered 2xx (bot/web/logs.py), and say the last sums at shutdown."""
    app[keys.WEBHOOK_LINES] = lines = WebhookLines(access_logger)
    yield
    lines.write()  # every connection is closed by now: no answer is added after


async def _quiet_logs(app: web.Application) -> None:
    # Whichever runner serves the app (companion serve, a test's), its logs quote nothing: aiohttp's are
    # filtered, and the libraries that would quote data stay at WARNING unless the operator said otherwise.
    quiet_server_logs()
    quiet_libraries(app[keys.SETTINGS].logging)


def create_app(settings: Settings, clock: Clock = utc_now) -> web.Application:
    """Return the service's application; nothing connects until it starts."""
    limits = request_limits(MAX_REQUEST_BYTES, settings.server.request_timeout_seconds, {stream.STREAM_PATH}, as_page)
    sign_ins = sign_in_middleware(settings)
    proxies = trusted_proxies(settings.server.trusted_proxies)  # early: every later part sees the client's address
    middlewares: list[Middleware] = [
        request_ids(), *([proxies] if proxies else []), limits, *([sign_ins] if sign_ins else []),
    ]  # outermost first
    app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=middlewares)
    app.on_response_prepare.append(answer_headers(settings.server))
    app.on_startup.append(_quiet_logs)
    app.on_startup.append(_judge_recent)
    services = Services(settings, clock)
    app[keys.SETTINGS], app[keys.CLOCK], app[keys.SERVICES], app[keys.STORED] = settings, clock, services, services.stored
    app[keys.METRICS] = services.metrics
    app[keys.INSTANCE] = services.instance = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
    # In this order at start (and the reverse at shutdown): the platforms start once the service's
    # parts exist, and the outbox once the platforms have offered their channels.
    app.cleanup_ctx.extend([_webhook_lines, _storage, _notices_everywhere, _evaluation, _timers, _frames])  # the timers' catch-up judges through the queue
    setup_platforms(app, services)
    app.cleanup_ctx.append(_deliveries)
    app.cleanup_ctx.append(_cluster)  # last: the cluster link starts once every part (the platforms' too) listens on it
    app.router.add_routes(health.routes)
    app.router.add_routes(metrics.routes)
    app.router.add_routes(api.routes)
    app.router.add_routes(checklist_api.routes)
    app.router.add_routes(clients_api.routes)
    app.router.add_routes(notes_api.routes)
    stream.setup(app)
    pages.setup(app)
    return app
