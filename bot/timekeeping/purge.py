"""The daily purge of what is past the retention limit: one due-work row a day, so it runs once however many instances."""
from __future__ import annotations

import logging
from typing import Callable

from bot.core.due_work import RETENTION_PURGE, DueRow
from bot.core.retention import cutoff, purge_work
from bot.storage.retention import Removal, Retention

from .timekeeper import Timekeeper

_LOGGER = logging.getLogger(__name__)
PLAN_EVERY_MINUTES = 60  # each instance plans the day's row this often; the first to plan it makes it, the rest find it


class DailyPurge:
    """Plan each day's purge as due work, and carry it out when it falls due."""

    def __init__(self, timekeeper: Timekeeper) -> None:
        self._timekeeper = timekeeper
        self._retention = Retention(timekeeper.tracker.store.engine)
        self.purged: list[Callable[[Removal], None]] = []  # told what went, e.g. to drop what memory holds of it
        timekeeper.register(RETENTION_PURGE, self._purge)

    async def plan(self) -> None:
        """Plan today's purge (UTC); once done, planning it again does nothing."""
        await self._timekeeper.plan(purge_work(self._timekeeper.tracker.clock()))

    async def _purge(self, row: DueRow) -> str | None:
        """Purge, the row marked done in the purge's own transaction: the instance whose update finds it pending purges.

        Always None: the row is finished already (or by another instance), so the timekeeper finishes nothing.
        """
        now = self._timekeeper.tracker.clock()
        days = self._timekeeper.settings.privacy.retention_days
        removal = await self._retention.purge(cutoff(now, days), now, due_row=row.id)
        if removal is None:
            _LOGGER.info("the purge %s was done by another instance", row.id)
            return None
        tables = ", ".join(f"{table} {count}" for table, count in sorted(removal.counts.items())) or "nothing"
        _LOGGER.info("purged %d session(s) ended over %d days ago; rows removed: %s", len(removal.session_ids), days, tables)
        for hook in self.purged:
            hook(removal)
        return None
