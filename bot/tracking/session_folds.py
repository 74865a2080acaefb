"""Keep the folded state of the sessions being judged, reading from the store only the events stored since."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Container

from bot.core.alerts import AlertSettings
from bot.core.events import MeetingEvent
from bot.core.fold import SessionFold
from bot.core.participants import RoleRules
from bot.core.session import MeetingState
from bot.core.summary_so_far import SummarySoFar
from bot.core.timefmt import from_iso
from bot.core.validity import EARLIEST, believable
from bot.storage.store import SessionRow, Store, StoredEvent

from . import warm_up
from .heard import HeardUpTo

# Sessions kept in memory, the least recently judged dropped first: room for every live stream one process
# may follow ([zoom] rtms_max_streams defaults to 1000). A fold holds about 1 KB per event.
MAX_FOLDS = 1000
# PostgreSQL hands out row ids before the commits, which may land out of order: a row read this soon
# after it was stored may still have an uncommitted neighbour with a smaller id, so the rows after the
# last one stored longer ago than this are read again (their events are not decoded twice). SQLite's
# writers take turns, so its ids are committed in order and each row is read once.
SETTLE = timedelta(seconds=30)


@dataclass
class _Kept:
    """A session's fold and how far into the store's rows it has read."""

    fold: SessionFold
    created_at: str  # the session row's: a session deleted and stored anew (or given its meeting id late) is folded anew
    after_id: int = 0  # every row up to this id is folded (or cannot be read)
    ahead: dict[str, MeetingEvent] = field(default_factory=dict)  # stored with a time not believable yet, by key
    settled: tuple[int, datetime] | None = None  # (generation, instant): all before it judged and done with (see `settle`)
    summary: SummarySoFar | None = None  # what is built of the summary of one of the fold's generations
    received: str = ""  # the latest stamp of receipt among the rows read (its text sorts as its time does, as in SQL)
    heard: HeardUpTo = field(default_factory=HeardUpTo)  # the stamps of receipt of the rows read, by their events' times


class SessionFolds:
    """A bounded cache of folded sessions; the stored events stay the truth, each row read once (in id order)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        # Rows read with a session's row (`session`), for the `state` that follows: the row, the fold and the id read after.
        self._read: dict[str, tuple[SessionRow, _Kept, int, list[StoredEvent]]] = {}
        self._ids_in_order = store.engine.dialect.name == "sqlite"

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._kept

    def settle(self, session_id: str, generation: int, at: datetime) -> None:
        """Note that all the state of fold `generation` before `at` is judged, and nothing of it can need judging again."""
        if (kept := self._kept.get(session_id)) is not None and kept.fold.generation == generation:
            kept.settled = (generation, at)

    def settled(self, session_id: str, generation: int) -> datetime | None:
        """Return the instant before which fold `generation` of the session is settled (None: nothing is)."""
        kept = self._kept.get(session_id)
        if kept is None or kept.settled is None or kept.settled[0] != generation:
            return None
        return kept.settled[1]

    def summary_so_far(self, session_id: str, generation: int, settings: AlertSettings) -> SummarySoFar:
        """Return what is built of the summary of fold `generation` of the session: kept with the fold while it is the session's."""
        kept = self._kept.get(session_id)
        if kept is not None and kept.summary is not None and kept.summary.generation == generation:
            return kept.summary
        so_far = SummarySoFar(generation, settings)
        if kept is not None and kept.fold.generation == generation:
            kept.summary = so_far
        return so_far

    def last_heard(self, session_id: str) -> datetime | None:
        """Return when the latest of the session's stored rows read so far was received (None: none read, or not kept)."""
        kept = self._kept.get(session_id)
        return from_iso(kept.received) if kept is not None and kept.received else None

    def heard(self, session_id: str) -> HeardUpTo | None:
        """Return when the rows the session's fold has read were received, by their events' times (None: not kept)."""
        kept = self._kept.get(session_id)
        return kept.heard if kept is not None else None

    def forget(self, session_id: str) -> None:
        """Drop what is kept of a session (ended and summarised, purged or forgotten): a later look reads it all again."""
        self._kept.pop(session_id, None)
        self._read.pop(session_id, None)

    async def session(self, session_id: str) -> SessionRow | None:
        """Return the session's row (None: not stored), reading in the same statement the rows stored since its fold's
        last read: `state` folds them, unless the row or the fold has changed meanwhile (then it reads again)."""
        kept = self._kept.get(session_id)
        if kept is None:  # every row to read: alone, not each beside a copy of the session's
            self._read.pop(session_id, None)
            return await self._store.session(session_id)
        row, stored = await self._store.session_and_events_after(session_id, kept.after_id, kept.fold.keys)
        if row is None:
            self._read.pop(session_id, None)
        else:
            self._read[session_id] = (row, kept, kept.after_id, stored)
        return row

    def read_from(self, row: SessionRow) -> tuple[int, Container[str]]:
        """Return the id of the session's last stored row folded (0: none, or not kept) and the keys its fold holds."""
        kept = self._kept.get(row.id)
        if kept is None or (kept.created_at, kept.fold.meeting) != (row.created_at, row.meeting):
            return 0, ()
        return kept.after_id, kept.fold.keys

    async def state(self, row: SessionRow, rules: RoleRules, now: datetime) -> tuple[MeetingState, int]:
        """Return the session's state with every event stored so far whose time is believable at `now`, and its fold's generation."""
        kept = before = self._kept.get(row.id)
        if kept is None or (kept.created_at, kept.fold.meeting) != (row.created_at, row.meeting):
            kept = self._kept[row.id] = _Kept(SessionFold(row.meeting, rules), row.created_at)
            while len(self._kept) > MAX_FOLDS:
                self._kept.popitem(last=False)
        self._kept.move_to_end(row.id)
        if kept.fold.rules != rules:
            kept.fold.judge_with(rules)
        read = self._read.pop(row.id, None)
        if read is not None and read[0] is row and read[1] is before is kept and read[2] == kept.after_id:
            stored = read[3]  # read with the row, for this fold as it is
        else:  # read ahead for a group, or now
            stored = await warm_up.events_after(self._store, row, kept.after_id, kept.fold.keys)
        kept.after_id = self._settled(stored, now) or kept.after_id
        kept.received = max([kept.received, *(s.received_at for s in stored)])
        for s in stored:
            if s.event is not None:
                kept.heard.note(s.key, s.event.at, s.received_at)
        kept.ahead.update((s.key, s.event) for s in stored if s.event is not None and s.event.at >= EARLIEST)
        if kept.ahead:  # a time before EARLIEST is never believable; one too far ahead waits until it is
            now_true = [(key, event) for key, event in kept.ahead.items() if believable(event.at, now)]
            kept.fold.add(now_true)
            for key, _ in now_true:
                del kept.ahead[key]
        return kept.fold.state(), kept.fold.generation

    def _settled(self, stored: list[StoredEvent], now: datetime) -> int | None:
        """Return the id of the last row read that no uncommitted row can precede any more (None: none)."""
        count = len(stored)
        if not self._ids_in_order:
            count = next((n for n, s in enumerate(stored) if not _stamp_before(s.received_at, now - SETTLE)), count)
        return stored[count - 1].id if count else None


def _stamp_before(stamp: str, then: datetime) -> bool:
    try:
        return from_iso(stamp) < then
    except ValueError:
        return True
