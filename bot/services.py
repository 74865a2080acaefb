"""The running service's parts that every platform is handed: created as the app starts, before any request."""
from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.settings import Settings
from bot.delivery.workers import Send
from bot.framing import FramingSink
from bot.metrics import Metrics
from bot.storage.cluster_link import ClusterLink
from bot.timekeeping.scheduler import DueWorkScheduler
from bot.timekeeping.timekeeper import Timekeeper
from bot.tracking.evaluation import EvaluationQueue
from bot.tracking.frames import FramePipeline
from bot.tracking.stored_events import StoredEvents
from bot.tracking.tracker import Clock, SessionTracker


@dataclass(eq=False)
class Services:
    """What a platform records events with, plans due work with, and delivers notices through.

    A platform keeps this object at set-up and reads its parts only once the app has started: from its
    cleanup context (which runs after the service's own) or from a request handler.
    """

    settings: Settings
    clock: Clock
    stored: StoredEvents = field(default_factory=StoredEvents)
    metrics: Metrics = field(default_factory=Metrics)  # what GET /metrics shows: this app's registry
    # Outbound channels by name (`zoom_chat`, `teams_activity`), added by the platforms as they start.
    channels: dict[str, Send] = field(default_factory=dict)
    instance: str = ""  # this instance's id among those sharing the database (bot/web/app.py makes it)
    cluster: ClusterLink | None = field(init=False, default=None)  # the instance's own PostgreSQL link (None: SQLite)
    tracker: SessionTracker = field(init=False)
    evaluation: EvaluationQueue = field(init=False)
    frames: FramePipeline = field(init=False)
    framing: FramingSink | None = field(init=False, default=None)  # None: the framing analysis is off or not installed
    scheduler: DueWorkScheduler = field(init=False)
    timekeeper: Timekeeper = field(init=False)
