"""Raise notices for the therapist exactly once, store them, and tell whoever is listening, here and on every instance."""
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
CATCH_UP_ROWS = 500  # notices read at once while catching up with the other instances
RETRY_SECONDS = 1.0  # after a read that failed (the database away)


@dataclass(frozen=True)
class DeliveryUpdate:
    """A notice's delivery to one channel changed state (sent, failed, ...)."""

    notice_id: int
    therapist_id: str
    channel: str
    state: str
    delivery_id: int


@dataclass(frozen=True)
class SessionChanged:
    """A session was judged again: a live page of it may have something new to show (who is present, the camera)."""

    session_id: str
    therapist_id: str


Published = NoticeRow | DeliveryUpdate | SessionChanged


class NoticeBoard:
    """The one internal way a reminder, alert or notice reaches the therapist.

    With several instances (`follow`), listeners are told every instance's notices in id order, each once: notices
    commit in id order (bot/storage/notices.py), so reading those above the highest told misses none and repeats none.
    """

    def __init__(self, store: Store, metrics: Metrics | None = None) -> None:
        self._store = store
        self._metrics = metrics or Metrics()  # a command's own, unscraped: only the service's are
        self._listeners: set[asyncio.Queue[Published]] = set()
        self._handlers: list[Callable[[NoticeRow], None]] = []
        self._sharing: list[Callable[[DeliveryUpdate | SessionChanged], None]] = []
        self._told = 0  # following: the highest notice id listeners were told
        self._behind = asyncio.Event()  # following: a notice above `_told` was stored, here or elsewhere
        self._following: asyncio.Task[None] | None = None

    async def raise_notice(
        self, therapist_id: str, session_id: str | None, kind: str, key: str, at: datetime, message: str, now: datetime
    ) -> NoticeRow | None:
        """Store the notice (with its deliveries) unless raised before (same key); publish it if new."""
        row = await self._store.raise_notice(therapist_id, session_id, kind, key, at, message, now)
        if row is not None:
            self.publish(row)
        return row

    def publish(self, row: NoticeRow) -> None:
        """Tell every listener about a notice just stored here (by `raise_notice` or with due work)."""
        _LOGGER.info("notice %s raised: kind=%s session=%s", row.id, row.kind, row.session_id)
        self._metrics.notices.labels(row.kind).inc()
        for handler in list(self._handlers):
            try:
                handler(row)
            except Exception:  # the row is stored: polling finds it even if a handler broke
                _LOGGER.exception("handing notice %s over failed", row.id)
        if self._following is None:
            self._tell(row)
        elif row.id > self._told:
            self._behind.set()  # told in order with the others' notices, read back

    def publish_delivery(self, update: DeliveryUpdate) -> None:
        """Tell every listener, here and on the other instances, that a notice's delivery to a channel changed state."""
        self._tell(update)
        self._share(update)

    def publish_change(self, change: SessionChanged) -> None:
        """Tell every listener, here and on the other instances, that a session was judged again."""
        self._tell(change)
        self._share(change)

    def tell_heard(self, item: DeliveryUpdate | SessionChanged) -> None:
        """Tell every listener here of a change another instance made."""
        self._tell(item)

    def share_with(self, share: Callable[[DeliveryUpdate | SessionChanged], None]) -> None:
        """Hand every change made here to `share` too (to reach the other instances)."""
        self._sharing.append(share)

    async def follow(self) -> None:
        """Tell listeners every instance's notices from now on (in id order), not only those raised here."""
        self._told = await self._store.last_notice_id()
        self._following = asyncio.get_running_loop().create_task(self._keep_up(), name="notice-board")

    async def stop_following(self) -> None:
        """Stop telling listeners the other instances' notices (shutting down)."""
        if self._following is not None:
            self._following.cancel()
            await asyncio.gather(self._following, return_exceptions=True)

    def heard(self, payload: str) -> None:
        """Take the ids of notices another instance stored (or this one: those are told already)."""
        if max((int(i) for i in payload.split(",") if i.isascii() and i.isdigit()), default=0) > self._told:
            self._behind.set()

    async def linked(self, up: bool) -> None:
        """Catch up once linked again: notices stored elsewhere while no notification could arrive."""
        if up:
            self._behind.set()

    async def _keep_up(self) -> None:
        """Tell listeners the notices stored above the highest told, in id order, each time there are some."""
        while True:
            await self._behind.wait()
            self._behind.clear()
            try:
                while rows := await self._store.notices_raised_after(self._told, CATCH_UP_ROWS):
                    for row in rows:
                        self._told = row.id
                        self._tell(row)
                    if len(rows) < CATCH_UP_ROWS:
                        break
            except Exception as err:  # the database away: the rows wait for the next try
                _LOGGER.warning("reading new notices failed (%s): trying again", type(err).__name__)
                await asyncio.sleep(RETRY_SECONDS)
                self._behind.set()

    def _share(self, item: DeliveryUpdate | SessionChanged) -> None:
        for share in self._sharing:
            share(item)

    def _tell(self, item: Published) -> None:
        for queue in list(self._listeners):
            queue.put_nowait(item)

    @property
    def listened(self) -> bool:
        """Return whether anything listens (an open notice stream): else what would only be told needs no reading."""
        return bool(self._listeners)

    def listen(self) -> asyncio.Queue[Published]:
        """Return a queue that receives every new notice and delivery change until `unlisten`."""
        queue: asyncio.Queue[Published] = asyncio.Queue()
        self._listeners.add(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[Published]) -> None:
        self._listeners.discard(queue)

    def add_handler(self, handler: Callable[[NoticeRow], None]) -> None:
        """Hand every new notice raised here to `handler` as it is published, in the same step (the outbox workers: no queue between)."""
        self._handlers.append(handler)

    def remove_handler(self, handler: Callable[[NoticeRow], None]) -> None:
        """Stop handing notices to `handler`."""
        if handler in self._handlers:
            self._handlers.remove(handler)
