"""Warm up a group of sessions' judgings: each kind of read done once for them all, then handed to each judging in turn."""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import AsyncIterator, Callable, Collection, Container

from bot.core.appointments import Appointment, appointment_id_for
from bot.core.due_work import DueRow
from bot.storage.appointments import AppointmentBook
from bot.storage.due_store import DueStore
from bot.storage.group_reads import GroupReads
from bot.storage.session_clients import SessionClients
from bot.storage.shared_reads import shared_reads
from bot.storage.store import SessionRow, Store, StoredEvent
from bot.storage.ticks import TickStore

_LOGGER = logging.getLogger(__name__)
ReadFrom = Callable[[SessionRow], tuple[int, Container[str]]]  # a session's fold: the row id its reading resumes after, the keys it holds


@dataclass
class _Group:
    """What was read ahead for a group, each answer handed out once (a second read of a judging reads the store)."""

    task: asyncio.Task | None
    rows: dict[str, SessionRow | None] = field(default_factory=dict)  # None: no such session
    codes: dict[str, str | None] = field(default_factory=dict)
    events: dict[str, tuple[int, list[StoredEvent]]] = field(default_factory=dict)  # the row id read after, and the rows
    notice_ids: dict[str, dict[str, int]] = field(default_factory=dict)
    pending: dict[str, list[DueRow]] = field(default_factory=dict)
    reminders: dict[str, list[DueRow]] = field(default_factory=dict)  # of the session's meeting, for its appointment
    ticks: dict[str, dict[str, datetime]] = field(default_factory=dict)  # by session or appointment id


_GROUP: ContextVar[_Group | None] = ContextVar("warm_up", default=None)


@asynccontextmanager
async def together(store: Store, session_ids: Collection[str], read_from: ReadFrom) -> AsyncIterator[None]:
    """Have the judgings that this task does within read what they need of these sessions from reads made for them all.

    Each answer is the one a judging's own read would have given at the start; one that failed to read is read alone.
    """
    group = _Group(asyncio.current_task())
    try:
        if session_ids:
            await _read(GroupReads(store), store, group, list(dict.fromkeys(session_ids)), read_from)
    except Exception:  # each judging reads alone, as without the warm-up
        _LOGGER.exception("reading %d sessions ahead of their judging failed: each reads its own", len(session_ids))
        group = _Group(asyncio.current_task())
    token = _GROUP.set(group)
    try:
        yield
    finally:
        _GROUP.reset(token)


async def _read(reads: GroupReads, store: Store, group: _Group, session_ids: list[str], read_from: ReadFrom) -> None:
    async with shared_reads(store.engine):
        found = await reads.sessions(session_ids)
        rows = [row for row, _ in found.values()]
        starts = {row: read_from(row) for row in rows}
        events = await reads.events_after(starts)
        notice_ids = await reads.notice_ids(rows)
        pending = await reads.pending(session_ids)
        reminders = await reads.reminders(rows)
        appointments = {appointment_id_for(r.work.key) for of_meeting in reminders.values() for r in of_meeting}
        ticks = await reads.ticks([*(row.id for row in rows), *sorted(appointments)])
    group.rows = {session_id: found[session_id][0] if session_id in found else None for session_id in session_ids}
    group.codes = {session_id: code for session_id, (_, code) in found.items()}
    group.events = {row.id: (starts[row][0], events[row.id]) for row in rows}
    group.notice_ids, group.pending, group.reminders, group.ticks = notice_ids, pending, reminders, ticks


def _current() -> _Group | None:
    group = _GROUP.get()
    return group if group is not None and group.task is asyncio.current_task() else None


async def session(store: Store, session_id: str) -> SessionRow | None:
    """Return a session (None: none), read ahead or else now."""
    if (group := _current()) is not None and session_id in group.rows:
        return group.rows.pop(session_id)
    return await store.session(session_id)


async def events_after(store: Store, row: SessionRow, after_id: int, known: Container[str]) -> list[StoredEvent]:
    """Return the session's events stored in rows after `after_id` (see Store.events_after), read ahead or else now."""
    group = _current()
    ahead = group.events.pop(row.id, None) if group is not None else None
    if ahead is None or ahead[0] != after_id:  # the fold was read or begun anew since
        return await store.events_after(row.meeting, after_id, known)
    return [StoredEvent(s.id, s.key, s.received_at, None) if s.key in known else s for s in ahead[1]]


async def code(clients: SessionClients, session_id: str) -> str | None:
    """Return the client code kept for a session (None: none), read ahead or else now."""
    if (group := _current()) is not None and session_id in group.codes:
        return group.codes.pop(session_id)
    return await clients.code(session_id)


async def notice_ids(store: Store, row: SessionRow) -> dict[str, int]:
    """Return the ids of the notices raised for the session by their keys, read ahead or else now."""
    if (group := _current()) is not None and row.id in group.notice_ids:
        return group.notice_ids.pop(row.id)
    return await store.notice_ids(row.therapist_id, row.id)


async def pending(due: DueStore, session_id: str) -> list[DueRow]:
    """Return the session's pending due work, soonest first, read ahead or else now."""
    if (group := _current()) is not None and session_id in group.pending:
        return group.pending.pop(session_id)
    return await due.pending(session_id=session_id)


async def appointment(book: AppointmentBook, row: SessionRow, started: datetime | None) -> tuple[Appointment | None, dict[str, datetime]]:
    """Return the appointment the session fulfils and its own checklist's ticks (see AppointmentBook.for_session), read ahead or else now."""
    group = _current()
    if group is None or row.id not in group.reminders or row.id not in group.ticks:
        return await book.for_session(row.id, row.therapist_id, row.platform, row.meeting_id, started)
    reminders, ticks = group.reminders.pop(row.id), dict(group.ticks[row.id])
    return (book.nearest(reminders, row.platform, row.meeting_id, started) if started is not None else None), ticks


async def ticks(store: TickStore, session_id: str) -> dict[str, datetime]:
    """Return when each point of a session's (or an appointment's) checklist was confirmed, read ahead or else now."""
    if (group := _current()) is not None and session_id in group.ticks:
        return dict(group.ticks[session_id])  # an appointment's may serve more than one session
    return await store.ticks(session_id)
