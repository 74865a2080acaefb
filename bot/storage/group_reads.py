"""Read what judging a group of sessions needs in one statement a kind, not one a session: rows and codes, new events, notices, timers."""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Collection, Container, Mapping

from sqlalchemy import Select, bindparam, or_, select

from bot.core.due_work import CHECKLIST_REMINDER, DueRow
from bot.core.reminders import reminder_key_prefix
from bot.core.timefmt import from_iso

from . import schema
from .due_store import _row as _due_row
from .due_store import key_pattern
from .session_clients import SessionClients
from .shared_reads import reading
from .store import SessionRow, Store, StoredEvent

_EVENTS = (
    select(*(schema.events.c[name] for name in ("id", "key", "data", "received_at", "occurrence_id")))
    .where(schema.events.c.platform == bindparam("platform"))
    .where(schema.events.c.occurrence_id.in_(bindparam("occurrence_ids", expanding=True)))
    .where(schema.events.c.id > bindparam("after_id"))
    .order_by(schema.events.c.id)
)
_NOTICE_IDS = select(*(schema.notices.c[name] for name in ("therapist_id", "session_id", "key", "id"))).where(
    schema.notices.c.therapist_id.in_(bindparam("therapist_ids", expanding=True)),
    schema.notices.c.session_id.in_(bindparam("session_ids", expanding=True)),
)
_TICKS = select(*(schema.checklist_ticks.c[name] for name in ("session_id", "item_id", "confirmed_at"))).where(
    schema.checklist_ticks.c.session_id.in_(bindparam("session_ids", expanding=True))
)
_PENDING = (
    select(schema.due_work)
    .where(schema.due_work.c.done_at.is_(None), schema.due_work.c.session_id.in_(bindparam("session_ids", expanding=True)))
    .order_by(schema.due_work.c.due_at, schema.due_work.c.id)
)


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


class GroupReads:
    """The reads of a group's judgings, each answering as the read of one session (Store, DueStore, SessionClients) would."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def sessions(self, session_ids: Collection[str]) -> dict[str, tuple[SessionRow, str | None]]:
        """Return each of these sessions that exists, with the client code kept for it (None: none kept)."""
        return await SessionClients(self._store.engine).with_sessions(session_ids)

    async def events_after(self, read_from: Mapping[SessionRow, tuple[int, Container[str]]]) -> dict[str, list[StoredEvent]]:
        """Return, by session, its meeting's events stored in rows after its id, in row order; a row keyed in its
        keys comes with no event (held already), nor does one that cannot be read (logged by key, as `events_after`)."""
        found: dict[str, list[StoredEvent]] = {row.id: [] for row in read_from}
        for platform in {row.platform for row in read_from}:
            rows = {row.occurrence_id: row for row in read_from if row.platform == platform}
            values = {"platform": platform, "occurrence_ids": list(rows), "after_id": min(read_from[r][0] for r in rows.values())}
            async with reading(self._store.engine) as conn:
                stored = (await conn.execute(_EVENTS, values)).all()
            for event in stored:
                session = rows[event.occurrence_id]
                after_id, known = read_from[session]
                if event.id > after_id:
                    found[session.id].append(self._store.stored_event(session.meeting, known, event.id, event.key, event.data, event.received_at))
        return found

    async def notice_ids(self, sessions: Collection[SessionRow]) -> dict[str, dict[str, int]]:
        """Return, by session, the ids of the notices raised for it by their keys."""
        owners = {row.id: row.therapist_id for row in sessions}
        found: dict[str, dict[str, int]] = {session_id: {} for session_id in owners}
        values = {"therapist_ids": sorted(set(owners.values())), "session_ids": list(owners)}
        async with reading(self._store.engine) as conn:
            for notice in (await conn.execute(_NOTICE_IDS, values)).all():
                if owners.get(notice.session_id) == notice.therapist_id:
                    found[notice.session_id][notice.key] = notice.id
        return found

    async def pending(self, session_ids: Collection[str]) -> dict[str, list[DueRow]]:
        """Return, by session, its pending due work, soonest first."""
        found: dict[str, list[DueRow]] = {session_id: [] for session_id in session_ids}
        async with reading(self._store.engine) as conn:
            for row in (await conn.execute(_PENDING, {"session_ids": list(session_ids)})).all():
                found[row.session_id].append(_due_row(row))
        return found

    async def reminders(self, sessions: Collection[SessionRow]) -> dict[str, list[DueRow]]:
        """Return, by session with a meeting id, its therapist's checklist reminders of its meeting (of any time, pending or
        done), soonest first: AppointmentBook.nearest finds among them the appointment it fulfils."""
        prefixes = {row.id: (row.therapist_id, reminder_key_prefix(row.platform, row.meeting_id)) for row in sessions if row.meeting_id}
        found: dict[str, list[DueRow]] = {session_id: [] for session_id in prefixes}
        if not prefixes:
            return found
        patterns = {f"pattern_{n}": key_pattern(p) for n, p in enumerate(sorted({p for _, p in prefixes.values()}))}
        values = {"therapist_ids": sorted({owner for owner, _ in prefixes.values()}), **patterns}
        async with reading(self._store.engine) as conn:
            rows = [_due_row(row) for row in (await conn.execute(_reminders_query(len(patterns)), values)).all()]
        for session_id, (owner, prefix) in prefixes.items():
            found[session_id] = [r for r in rows if r.work.therapist_id == owner and r.work.key.startswith(prefix)]
        return found

    async def ticks(self, ids: Collection[str]) -> dict[str, dict[str, datetime]]:
        """Return, by session (or appointment) id, when each point of its checklist was confirmed."""
        found: dict[str, dict[str, datetime]] = {key: {} for key in ids}
        async with reading(self._store.engine) as conn:
            for row in (await conn.execute(_TICKS, {"session_ids": list(found)})).all():
                found[row.session_id][row.item_id] = from_iso(row.confirmed_at)
        return found
