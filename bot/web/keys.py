"""The typed keys of everything the web application owns."""
from __future__ import annotations

import asyncio
from collections import Counter

from aiohttp import web

from bot.core.settings import Settings
from bot.delivery.hand_off import Deliveries
from bot.metrics import Metrics
from bot.services import Services
from bot.storage.cluster_link import ClusterLink
from bot.storage.outbox import Outbox
from bot.storage.sign_ins import SignInRecords
from bot.storage.store import Store
from bot.storage.stream_tickets import StreamTickets
from bot.timekeeping.leadership import Leadership
from bot.timekeeping.purge import DailyPurge
from bot.timekeeping.scheduler import DueWorkScheduler
from bot.timekeeping.timekeeper import Timekeeper
from bot.tracking.evaluation import EvaluationQueue
from bot.tracking.frames import FramePipeline
from bot.tracking.notice_board import NoticeBoard
from bot.tracking.stored_events import StoredEvents
from bot.tracking.tracker import Clock, SessionTracker

from .webhook_lines import WebhookLines

SETTINGS = web.AppKey("settings", Settings)
INSTANCE = web.AppKey("instance", str)  # this instance's id among several on one database: host, process, a random part
CLOCK = web.AppKey[Clock]("clock")  # a callable type, not a class: given as the type argument
SERVICES = web.AppKey("services", Services)  # what the platforms are handed
STORE = web.AppKey("store", Store)
CLUSTER = web.AppKey[ClusterLink | None]("cluster")  # the instance's own PostgreSQL link; None on SQLite
BOARD = web.AppKey("board", NoticeBoard)
TRACKER = web.AppKey("tracker", SessionTracker)
EVALUATION = web.AppKey("evaluation", EvaluationQueue)
SCHEDULER = web.AppKey("scheduler", DueWorkScheduler)
TIMEKEEPER = web.AppKey("timekeeper", Timekeeper)
LEADERSHIP = web.AppKey("leadership", Leadership)
PURGE = web.AppKey("purge", DailyPurge)
STORED = web.AppKey("stored_events", StoredEvents)
FRAMES = web.AppKey("frames", FramePipeline)
OUTBOX = web.AppKey("outbox", Outbox)
SIGN_INS = web.AppKey("sign_ins", SignInRecords)
STREAM_TICKETS = web.AppKey("stream_tickets", StreamTickets)
DELIVERIES = web.AppKey("deliveries", Deliveries)
STREAM_HEARTBEAT_SECONDS = web.AppKey("stream_heartbeat_seconds", float)
STREAMS = web.AppKey("streams", set[asyncio.Task[None]])
OPEN_STREAMS = web.AppKey("open_streams", Counter[str])  # per therapist id
METRICS = web.AppKey("metrics", Metrics)
WEBHOOK_LINES = web.AppKey("webhook_lines", WebhookLines)  # the access log's sums of webhooks answered 2xx
# The request as a trusted proxy says the client made it, kept on the request as it arrived (bot/web/proxies.py).
FORWARDED = web.RequestKey("forwarded", web.BaseRequest)
