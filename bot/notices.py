"""Raise notices for the therapist exactly once, store them, and tell whoever is listening."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from .store import NoticeRow, Store

_LOGGER = logging.getLogger(__name__)


class NoticeBoard:
    """The one internal way a reminder, alert or notice reaches the therapist."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._listeners: set[asyncio.Queue[NoticeRow]] = set()

    async def raise_notice(
        self, therapist_id: str, session_id: str | None, kind: str, key: str, at: datetime, message: str, now: datetime
    ) -> NoticeRow | None:
        """Store the notice unless raised before (same key); publish it if new."""
        row = await self._store.raise_notice(therapist_id, session_id, kind, key, at, message, now)
        if row is not None:
            self.publish(row)
        return row

    def publish(self, row: NoticeRow) -> None:
        """Tell every listener about a notice just stored (by `raise_notice` or with due work)."""
        _LOGGER.info("notice %s raised: kind=%s session=%s", row.id, row.kind, row.session_id)
        for queue in list(self._listeners):
            queue.put_nowait(row)

    def listen(self) -> asyncio.Queue[NoticeRow]:
        """Return a queue that receives every new notice until `unlisten`."""
        queue: asyncio.Queue[NoticeRow] = asyncio.Queue()
        self._listeners.add(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[NoticeRow]) -> None:
        self._listeners.discard(queue)
