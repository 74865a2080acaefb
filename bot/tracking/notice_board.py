"""Raise notices for the therapist exactly once, store them, and tell whoever is listening."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from bot.metrics import Metrics
from bot.storage.notices import NoticeRow
from bot.storage.store import Store

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryUpdate:
    """A notice's delivery to one channel changed state (sent, failed, ...)."""

    notice_id: int
    therapist_id: str
    channel: str
    state: str


@dataclass(frozen=True)
class SessionChanged:
    """A session was judged again: a live page of it may have something new to show (who is present, the camera)."""

    session_id: str
    therapist_id: str


Published = NoticeRow | DeliveryUpdate | SessionChanged


class NoticeBoard:
    """The one internal way a reminder, alert or notice reaches the therapist."""

    def __init__(self, store: Store, metrics: Metrics | None = None) -> None:
        self._store = store
        self._metrics = metrics or Metrics()  # a command's own, unscraped: only the service's are
        self._listeners: set[asyncio.Queue[Published]] = set()
        self._handlers: list[Callable[[NoticeRow], None]] = []

    async def raise_notice(
        self, therapist_id: str, session_id: str | None, kind: str, key: str, at: datetime, message: str, now: datetime
    ) -> NoticeRow | None:
        """Store the notice (with its deliveries) unless raised before (same key); publish it if new."""
        row = await self._store.raise_notice(therapist_id, session_id, kind, key, at, message, now)
        if row is not None:
            self.publish(row)
        return row

    def publish(self, row: NoticeRow) -> None:
        """Tell every listener about a notice just stored (by `raise_notice` or with due work)."""
        _LOGGER.info("notice %s raised: kind=%s session=%s", row.id, row.kind, row.session_id)
        self._metrics.notices.labels(row.kind).inc()
        for handler in list(self._handlers):
            try:
                handler(row)
            except Exception:  # the row is stored: polling finds it even if a handler broke
                _LOGGER.exception("handing notice %s over failed", row.id)
        self._tell(row)

    def publish_delivery(self, update: DeliveryUpdate) -> None:
        """Tell every listener that a notice's delivery to a channel changed state."""
        self._tell(update)

    def publish_change(self, change: SessionChanged) -> None:
        """Tell every listener that a session was judged again."""
        self._tell(change)

    def _tell(self, item: Published) -> None:
        for queue in list(self._listeners):
            queue.put_nowait(item)

    def listen(self) -> asyncio.Queue[Published]:
        """Return a queue that receives every new notice and delivery change until `unlisten`."""
        queue: asyncio.Queue[Published] = asyncio.Queue()
        self._listeners.add(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[Published]) -> None:
        self._listeners.discard(queue)

    def add_handler(self, handler: Callable[[NoticeRow], None]) -> None:
        """Hand every new notice to `handler` as it is published, in the same step (the outbox workers: no queue between)."""
        self._handlers.append(handler)

    def remove_handler(self, handler: Callable[[NoticeRow], None]) -> None:
        """Stop handing notices to `handler`."""
        if handler in self._handlers:
            self._handlers.remove(handler)
