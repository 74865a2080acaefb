"""Warm up a group of sessions' judgings: each kind of read done once for them all, then handed to each judging in turn."""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import AsyncIterator, Awaitable, Callable, Collection, Container

from bot.core.appointments import Appointment
from bot.core.due_work import DueRow
from bot.storage.appointments import AppointmentBook
from bot.storage.due_store import SessionDue
from bot.storage.group_reads import GroupReads
from bot.storage.session_clients import SessionClients
from bot.storage.shared_reads import shared_reads
from bot.storage.store import SessionRow, Store, StoredEvent
from bot.storage.ticks import TickStore

_LOGGER = logging.getLogger(__name__)
# A group of fewer sessions is read as each is alone, in two statements a session (SessionFolds.session, then
# AppointmentBook.for_session). Together, on PostgreSQL six round trips: measured faster alone below four; on SQLite two
# trips to the connection's thread (GroupReads.around): faster from two.
READ_TOGETHER_FROM = {"postgresql": 4, "sqlite": 2}
ReadFrom = Callable[[SessionRow], tuple[int, Container[str]]]  # a session's fold: the row id its reading resumes after, the keys it holds


@dataclass
class _Group:
    """What was read ahead for a group, each answer handed out once (a second read of a judging reads the store)."""

    task: asyncio.Task | None
    ahead: tuple[Store, list[str], ReadFrom] | None = None  # what is still to read, at the first judging's first read
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

    The reads are made at the first judging's first read, on the connection it reads with (see shared_reads); each answer
    is the one a judging's own read would have given then; one that failed to read is read alone, as is a small group.
    """
    distinct = list(dict.fromkeys(session_ids))
    if len(distinct) < READ_TOGETHER_FROM[store.engine.dialect.name]:
        yield
        return
    token = _GROUP.set(_Group(asyncio.current_task(), (store, distinct, read_from)))
    try:
        yield
    finally:
        _GROUP.reset(token)


async def _read(group: _Group, store: Store, session_ids: list[str], read_from: ReadFrom) -> None:
    reads = GroupReads(store)
    async with shared_reads(store.engine):
        found = await reads.sessions(session_ids)
        rows = [row for row, _ in found.values()]
        starts = {row: read_from(row) for row in rows}
        around = await reads.around(starts, session_ids)  # on SQLite in one trip to the connection's thread
    group.rows = {session_id: found[session_id][0] if session_id in found else None for session_id in session_ids}
    group.codes = {session_id: code for session_id, (_, code) in found.items()}
    group.events = {row.id: (starts[row][0], around.events[row.id]) for row in rows}
    group.notice_ids, group.pending, group.reminders, group.ticks = around.notice_ids, around.pending, around.reminders, around.ticks


async def _current() -> _Group | None:
    group = _GROUP.get()
    if group is None or group.task is not asyncio.current_task():
        return None
    if group.ahead is not None:
        (store, session_ids, read_from), group.ahead = group.ahead, None
        try:
            await _read(group, store, session_ids, read_from)
        except Exception:  # each judging reads alone, as without the warm-up
            _LOGGER.exception("reading %d sessions ahead of their judging failed: each reads its own", len(session_ids))
    return group


async def session(session_id: str, alone: Callable[[str], Awaitable[SessionRow | None]]) -> SessionRow | None:
    """Return a session (None: none), read ahead or else now by `alone` (see SessionFolds.session)."""
    if (group := await _current()) is not None and session_id in group.rows:
        return group.rows.pop(session_id)
    return await alone(session_id)


async def events_after(store: Store, row: SessionRow, after_id: int, known: Container[str]) -> list[StoredEvent]:
    """Return the session's events stored in rows after `after_id` (see Store.events_after), read ahead or else now."""
    group = await _current()
    ahead = group.events.pop(row.id, None) if group is not None else None
    if ahead is None or ahead[0] != after_id:  # the fold was read or begun anew since
        return await store.events_after(row.meeting, after_id, known)
    return [StoredEvent(s.id, s.key, s.received_at, None) if s.key in known else s for s in ahead[1]]


async def code(clients: SessionClients, session_id: str) -> str | None:
    """Return the client code kept for a session (None: none), read ahead or else now."""
    if (group := await _current()) is not None and session_id in group.codes:
        return group.codes.pop(session_id)
    return await clients.code(session_id)


async def appointment(
    book: AppointmentBook, row: SessionRow, started: datetime | None, evaluating: bool
) -> tuple[Appointment | None, SessionDue]:
    """Return the appointment the session fulfils and what was read of it with its appointment (see AppointmentBook.for_session),
    read ahead or else now."""
    group = await _current()
    if group is None or row.id not in group.notice_ids:  # read for each session found
        return await book.for_session(row.id, row.therapist_id, row.platform, row.meeting_id, started, evaluating)
    notice_ids, pending, reminders = group.notice_ids.pop(row.id), group.pending.pop(row.id, []), group.reminders.pop(row.id, [])
    due = SessionDue(reminders, dict(group.ticks[row.id]), pending if evaluating else [], notice_ids if evaluating else {})
    found = book.nearest(reminders, row.platform, row.meeting_id, started) if row.meeting_id and started is not None else None
    return found, due


async def ticks(store: TickStore, session_id: str) -> dict[str, datetime]:
    """Return when each point of a session's (or an appointment's) checklist was confirmed, read ahead or else now."""
    if (group := await _current()) is not None and session_id in group.ticks:
        return dict(group.ticks[session_id])  # an appointment's may serve more than one session
    return await store.ticks(session_id)
