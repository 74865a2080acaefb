"""Write what judgings decided (notices, timers planned, moved or cancelled, list entries) in one transaction."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from bot.core.due_work import DueRow, DueWork, NoticeSpec
from bot.core.listing import ListedSession

from .cluster_link import notify
from .due_store import DUE_CHANNEL, DueStore
from .notices import NoticeRow
from .session_list import SessionList
from .store import SessionRow, Store


@dataclass(frozen=True)
class Written:
    """What a write did: each notice's new row (None: raised before), the timers pending as planned by key, the rows cancelled."""

    notices: list[NoticeRow | None]
    timers: dict[str, DueRow]
    cancelled: set[int]


@dataclass
class JudgingWrites:
    """What one or more judgings write together, and what each does once it is committed (told what was written)."""

    notices: list[tuple[NoticeSpec, datetime]] = dataclasses.field(default_factory=list)
    timers: list[tuple[DueWork, datetime]] = dataclasses.field(default_factory=list)
    cancelled: list[tuple[int, datetime]] = dataclasses.field(default_factory=list)
    listings: list[tuple[SessionRow, ListedSession, str, datetime]] = dataclasses.field(default_factory=list)
    after: list[Callable[[Written], None]] = dataclasses.field(default_factory=list)

    def raise_notice(self, notice: NoticeSpec, now: datetime) -> int:
        """Raise `notice` with the rest; return its place in Written.notices."""
        self.notices.append((notice, now))
        return len(self.notices) - 1

    def joined(self, other: JudgingWrites) -> JudgingWrites:
        """Return these writes and `other`'s as one: both committed at once (each `after` told the places of its own notices)."""
        offset, end = len(self.notices), len(self.notices) + len(other.notices)

        def shifted(then: Callable[[Written], None]) -> Callable[[Written], None]:
            return lambda written: then(dataclasses.replace(written, notices=written.notices[offset:end]))

        return JudgingWrites(
            self.notices + other.notices, self.timers + other.timers, self.cancelled + other.cancelled,
            self.listings + other.listings, self.after + [shifted(then) for then in other.after],
        )


class JudgingWriter:
    """Commit judgings' writes: every notice in one statement (and their deliveries in one more), timers in a statement a kind,
    list entries in one."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._due = DueStore(store)
        self._listings = SessionList(store.engine)

    async def write(self, writes: JudgingWrites) -> Written:
        """Write everything in one transaction (nothing written if it fails), then tell each `after` what was written."""
        written = Written([], {}, set())
        if writes.notices or writes.timers or writes.cancelled or writes.listings:
            async with self._store.engine.begin() as conn:
                cancelled = await self._due.cancel_in(conn, writes.cancelled)
                timers = await self._due.put_in(conn, writes.timers)
                await notify(conn, DUE_CHANNEL, [str(i) for i in sorted(cancelled | {row.id for row in timers.values()})])
                if writes.listings:
                    await self._listings.keep_in(conn, writes.listings)
                # Last: inserting notices waits for other instances' notices to commit (bot/storage/notices.py), and a
                # transaction that waited there holding a row another needs would deadlock with it.
                notices = await self._store.insert_notices(conn, writes.notices) if writes.notices else []
            written = Written(notices, timers, cancelled)
        for then in writes.after:
            then(written)
        return written
