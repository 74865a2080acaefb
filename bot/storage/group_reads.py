"""Read what judging a group of sessions needs in one statement a kind, not one a session: rows and codes, new events, notices, timers."""
from __future__ import annotations

import functools
import json
import sqlite3
from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Collection, Container, Iterable, Mapping

from sqlalchemy import Select, bindparam, or_, select

from bot.core.appointments import appointment_id_for
from bot.core.due_work import CHECKLIST_REMINDER, DueRow
from bot.core.reminders import reminder_key_prefix
from bot.core.timefmt import from_iso

from . import schema
from .due_store import _row as _due_row
from .due_store import key_pattern
from .session_clients import SessionClients
from .shared_reads import reading
from .sqlite_trips import on_thread
from .store import SessionRow, Store, StoredEvent

_EVENT_COLUMNS = ("id", "key", "data", "received_at", "occurrence_id")
_NOTICE_COLUMNS = ("therapist_id", "session_id", "key", "id")
_TICK_COLUMNS = ("session_id", "item_id", "confirmed_at")
_DUE_COLUMNS = tuple(c.name for c in schema.due_work.columns)
_EVENTS = (
    select(*(schema.events.c[name] for name in _EVENT_COLUMNS))
    .where(schema.events.c.platform == bindparam("platform"))
    .where(schema.events.c.occurrence_id.in_(bindparam("occurrence_ids", expanding=True)))
    .where(schema.events.c.id > bindparam("after_id"))
    .order_by(schema.events.c.id)
)
_NOTICE_IDS = select(*(schema.notices.c[name] for name in _NOTICE_COLUMNS)).where(
    schema.notices.c.therapist_id.in_(bindparam("therapist_ids", expanding=True)),
    schema.notices.c.session_id.in_(bindparam("session_ids", expanding=True)),
)
_TICKS = select(*(schema.checklist_ticks.c[name] for name in _TICK_COLUMNS)).where(
    schema.checklist_ticks.c.session_id.in_(bindparam("session_ids", expanding=True))
)
_PENDING = (
    select(schema.due_work)
    .where(schema.due_work.c.done_at.is_(None), schema.due_work.c.session_id.in_(bindparam("session_ids", expanding=True)))
    .order_by(schema.due_work.c.due_at, schema.due_work.c.id)
)

# The same reads as SQLite's own statements, each of one text whatever the group's size (a list bound as one JSON array),
# all made in one trip to the connection's thread (see `GroupReads.around`).
_IN = "IN (SELECT value FROM json_each(?))"
_SQLITE_EVENTS = f"SELECT {', '.join(_EVENT_COLUMNS)} FROM events WHERE platform = ? AND occurrence_id {_IN} AND id > ? ORDER BY id"
_SQLITE_NOTICE_IDS = f"SELECT {', '.join(_NOTICE_COLUMNS)} FROM notices WHERE therapist_id {_IN} AND session_id {_IN}"
_SQLITE_PENDING = f"SELECT {', '.join(_DUE_COLUMNS)} FROM due_work WHERE done_at IS NULL AND session_id {_IN} ORDER BY due_at, id"
_SQLITE_REMINDERS = (
    f"SELECT {', '.join(_DUE_COLUMNS)} FROM due_work WHERE kind = ? AND therapist_id {_IN}"
    " AND EXISTS (SELECT 1 FROM json_each(?) AS pattern WHERE due_work.key LIKE pattern.value ESCAPE '/') ORDER BY due_at, id"
)
_SQLITE_TICKS = f"SELECT {', '.join(_TICK_COLUMNS)} FROM checklist_ticks WHERE session_id {_IN}"
_EventRow = namedtuple("_EventRow", _EVENT_COLUMNS)  # type: ignore[misc]  # a row as SQLAlchemy's: its columns by name
_NoticeRow = namedtuple("_NoticeRow", _NOTICE_COLUMNS)  # type: ignore[misc]
_TickRow = namedtuple("_TickRow", _TICK_COLUMNS)  # type: ignore[misc]
_DueRow = namedtuple("_DueRow", _DUE_COLUMNS)  # type: ignore[misc]


@functools.cache
def _reminders_query(patterns: int) -> Select:
    """Return the query of checklist reminders of a few therapists keyed to match any of `patterns` LIKE patterns
    (`pattern_0`...): built once a count, not at each group's read (building it cost as much as running it)."""
    t = schema.due_work
    return (
        select(t)
        .where(t.c.kind == CHECKLIST_REMINDER, t.c.therapist_id.in_(bindparam("therapist_ids", expanding=True)))
        .where(or_(*(t.c.key.like(bindparam(f"pattern_{n}"), escape="/") for n in range(patterns))))
        .order_by(t.c.due_at, t.c.id)
    )


@dataclass
class Around:
    """What a group's judgings read beside their sessions' rows, by session: new events, notices' ids, pending timers,
    their meetings' checklist reminders, and the ticks of each session and of each appointment among those reminders."""

    events: dict[str, list[StoredEvent]]
    notice_ids: dict[str, dict[str, int]]
    pending: dict[str, list[DueRow]]
    reminders: dict[str, list[DueRow]]
    ticks: dict[str, dict[str, datetime]]


class GroupReads:
    """The reads of a group's judgings, each answering as the read of one session (Store, DueStore, SessionClients) would."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def sessions(self, session_ids: Collection[str]) -> dict[str, tuple[SessionRow, str | None]]:
        """Return each of these sessions that exists, with the client code kept for it (None: none kept)."""
        return await SessionClients(self._store.engine).with_sessions(session_ids)

    async def around(self, read_from: Mapping[SessionRow, tuple[int, Container[str]]], session_ids: Collection[str]) -> Around:
        """Return what the reads below return for these sessions (those found, with where each one's events are read from;
        those asked for), with the ticks of the appointments among their reminders: on SQLite in one trip to the thread."""
        rows = list(read_from)
        if self._store.engine.dialect.name == "sqlite":
            async with reading(self._store.engine) as conn:
                stored, around = await on_thread(conn, lambda sqlite: _around_on_thread(sqlite, read_from, session_ids))
            around.events = self._events_of(read_from, stored)  # here, not on the thread: opening rows is the store's
            return around
        events, notice_ids, pending, reminders = (
            await self.events_after(read_from), await self.notice_ids(rows), await self.pending(session_ids), await self.reminders(rows)
        )
        return Around(events, notice_ids, pending, reminders, await self.ticks(_ticked(rows, reminders)))

    async def events_after(self, read_from: Mapping[SessionRow, tuple[int, Container[str]]]) -> dict[str, list[StoredEvent]]:
        """Return, by session, its meeting's events stored in rows after its id, in row order; a row keyed in its
        keys comes with no event (held already), nor does one that cannot be read (logged by key, as `events_after`)."""
        stored = {}
        for platform, (occurrences, after_id) in _event_reads(read_from).items():
            values = {"platform": platform, "occurrence_ids": occurrences, "after_id": after_id}
            async with reading(self._store.engine) as conn:
                stored[platform] = (await conn.execute(_EVENTS, values)).all()
        return self._events_of(read_from, stored)

    def _events_of(self, read_from: Mapping[SessionRow, tuple[int, Container[str]]], stored: Mapping[str, Iterable[Any]]) -> dict[str, list[StoredEvent]]:
        found: dict[str, list[StoredEvent]] = {row.id: [] for row in read_from}
        for platform, events in stored.items():
            rows = {row.occurrence_id: row for row in read_from if row.platform == platform}
            for event in events:
                session = rows[event.occurrence_id]
                after_id, known = read_from[session]
                if event.id > after_id:
                    found[session.id].append(self._store.stored_event(session.meeting, known, event.id, event.key, event.data, event.received_at))
        return found

    async def notice_ids(self, sessions: Collection[SessionRow]) -> dict[str, dict[str, int]]:
        """Return, by session, the ids of the notices raised for it by their keys."""
        owners = _owners(sessions)
        values = {"therapist_ids": sorted(set(owners.values())), "session_ids": list(owners)}
        async with reading(self._store.engine) as conn:
            return _notice_ids_of(owners, (await conn.execute(_NOTICE_IDS, values)).all())

    async def pending(self, session_ids: Collection[str]) -> dict[str, list[DueRow]]:
        """Return, by session, its pending due work, soonest first."""
        async with reading(self._store.engine) as conn:
            return _pending_of(session_ids, (await conn.execute(_PENDING, {"session_ids": list(session_ids)})).all())

    async def reminders(self, sessions: Collection[SessionRow]) -> dict[str, list[DueRow]]:
        """Return, by session with a meeting id, its therapist's checklist reminders of its meeting (of any time, pending or
        done), soonest first: AppointmentBook.nearest finds among them the appointment it fulfils."""
        prefixes = _prefixes(sessions)
        if not prefixes:
            return {}
        therapists, patterns = _reminder_values(prefixes)
        values = {"therapist_ids": therapists, **{f"pattern_{n}": pattern for n, pattern in enumerate(patterns)}}
        async with reading(self._store.engine) as conn:
            return _reminders_of(prefixes, (await conn.execute(_reminders_query(len(patterns)), values)).all())

    async def ticks(self, ids: Collection[str]) -> dict[str, dict[str, datetime]]:
        """Return, by session (or appointment) id, when each point of its checklist was confirmed."""
        async with reading(self._store.engine) as conn:
            return _ticks_of(ids, (await conn.execute(_TICKS, {"session_ids": list(dict.fromkeys(ids))})).all())


def _around_on_thread(
    sqlite: sqlite3.Connection, read_from: Mapping[SessionRow, tuple[int, Container[str]]], session_ids: Collection[str]
) -> tuple[dict[str, list[Any]], Around]:
    """On the connection's thread: make GroupReads.around's reads; return the event rows (by platform) and the rest, read."""
    cursor = sqlite.cursor()

    def fetch(statement: str, row: Any, *values: Any) -> list[Any]:
        return [row._make(found) for found in cursor.execute(statement, values)]

    try:
        rows = list(read_from)
        stored = {
            platform: fetch(_SQLITE_EVENTS, _EventRow, platform, json.dumps(occurrences), after_id)
            for platform, (occurrences, after_id) in _event_reads(read_from).items()
        }
        owners, prefixes = _owners(rows), _prefixes(rows)
        notices = fetch(_SQLITE_NOTICE_IDS, _NoticeRow, json.dumps(sorted(set(owners.values()))), json.dumps(list(owners)))
        pending = fetch(_SQLITE_PENDING, _DueRow, json.dumps(list(session_ids)))
        therapists, patterns = _reminder_values(prefixes)
        reminders = _reminders_of(prefixes, fetch(_SQLITE_REMINDERS, _DueRow, CHECKLIST_REMINDER, json.dumps(therapists), json.dumps(patterns)) if prefixes else [])
        ticked = _ticked(rows, reminders)
        ticks = fetch(_SQLITE_TICKS, _TickRow, json.dumps(ticked))
    finally:
        cursor.close()
    return stored, Around({}, _notice_ids_of(owners, notices), _pending_of(session_ids, pending), reminders, _ticks_of(ticked, ticks))


def _event_reads(read_from: Mapping[SessionRow, tuple[int, Container[str]]]) -> dict[str, tuple[list[str], int]]:
    """Return, by platform, the meeting occurrences whose events are read and the row id read after (the least of theirs)."""
    return {
        platform: ([row.occurrence_id for row in read_from if row.platform == platform], min(read_from[row][0] for row in read_from if row.platform == platform))
        for platform in {row.platform for row in read_from}
    }


def _owners(sessions: Iterable[SessionRow]) -> dict[str, str]:
    return {row.id: row.therapist_id for row in sessions}


def _notice_ids_of(owners: Mapping[str, str], notices: Iterable[Any]) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {session_id: {} for session_id in owners}
    for notice in notices:
        if owners.get(notice.session_id) == notice.therapist_id:
            found[notice.session_id][notice.key] = notice.id
    return found


def _pending_of(session_ids: Collection[str], rows: Iterable[Any]) -> dict[str, list[DueRow]]:
    found: dict[str, list[DueRow]] = {session_id: [] for session_id in session_ids}
    for row in rows:
        found[row.session_id].append(_due_row(row))
    return found


def _prefixes(sessions: Iterable[SessionRow]) -> dict[str, tuple[str, str]]:
    """Return, by session with a meeting id, its therapist and the key prefix of its meeting's reminders."""
    return {row.id: (row.therapist_id, reminder_key_prefix(row.platform, row.meeting_id)) for row in sessions if row.meeting_id}


def _reminder_values(prefixes: Mapping[str, tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Return the therapists whose reminders are read, and the LIKE patterns of their keys."""
    return sorted({owner for owner, _ in prefixes.values()}), [key_pattern(p) for p in sorted({p for _, p in prefixes.values()})]


def _reminders_of(prefixes: Mapping[str, tuple[str, str]], rows: Iterable[Any]) -> dict[str, list[DueRow]]:
    reminders = [_due_row(row) for row in rows]
    return {session_id: [r for r in reminders if r.work.therapist_id == owner and r.work.key.startswith(prefix)] for session_id, (owner, prefix) in prefixes.items()}


def _ticked(sessions: Iterable[SessionRow], reminders: Mapping[str, list[DueRow]]) -> list[str]:
    """Return the ids whose checklist ticks a group reads: its sessions', then those of the appointments among their reminders."""
    appointments = {appointment_id_for(r.work.key) for of_meeting in reminders.values() for r in of_meeting}
    return [*(row.id for row in sessions), *sorted(appointments)]


def _ticks_of(ids: Collection[str], rows: Iterable[Any]) -> dict[str, dict[str, datetime]]:
    found: dict[str, dict[str, datetime]] = {key: {} for key in ids}
    for row in rows:
        found[row.session_id][row.item_id] = from_iso(row.confirmed_at)
    return found
