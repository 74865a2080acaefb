"""The typed keys of everything the web application owns."""
from __future__ import annotations

import asyncio

from aiohttp import web

from integrations.zoom.rtms import RtmsTiming, StreamManager

from .dispatch import StoredEvents
from .delivery import Deliveries
from .evaluation import EvaluationQueue
from .frames import FramePipeline
from .notices import NoticeBoard
from .outbox import Outbox
from .scheduler import DueWorkScheduler
from .settings import Settings
from .store import Store
from .timekeeper import Timekeeper
from .tracking import Clock, SessionTracker

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
STORE = web.AppKey("store", Store)
BOARD = web.AppKey("board", NoticeBoard)
TRACKER = web.AppKey("tracker", SessionTracker)
EVALUATION = web.AppKey("evaluation", EvaluationQueue)
SCHEDULER = web.AppKey("scheduler", DueWorkScheduler)
TIMEKEEPER = web.AppKey("timekeeper", Timekeeper)
STORED = web.AppKey("stored_events", StoredEvents)
FRAMES = web.AppKey("frames", FramePipeline)
RTMS = web.AppKey("rtms_streams", StreamManager)
RTMS_TIMING = web.AppKey("rtms_timing", RtmsTiming)  # set before start-up to shrink delays in tests
OUTBOX = web.AppKey("outbox", Outbox)
DELIVERIES = web.AppKey("deliveries", Deliveries)
STREAM_HEARTBEAT_SECONDS = web.AppKey("stream_heartbeat_seconds", float)
STREAMS = web.AppKey("streams", set[asyncio.Task[None]])
