"""Delete what the record no longer keeps: every row of a session, and old rows that belong to no session."""
from __future__ import annotations

from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, AsyncIterator, Iterable, Sequence

from sqlalchemy import ColumnElement, Table, and_, case, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.appointments import appointment_id_for
from bot.core.due_work import CHECKLIST_REMINDER, FIRED
from bot.core.events import MeetingEnded, SessionClosed
from bot.core.retention import ended_before
from bot.core.timefmt import to_stamp

from . import schema

CHUNK = 500  # ids per statement: well under SQLite's and asyncpg's limits on bound values
Clause = tuple[Table, ColumnElement[bool]]
E, S, N, D, W = schema.events, schema.sessions, schema.notices, schema.deliveries, schema.due_work
L = schema.session_listing


@dataclass(frozen=True)
class SessionKey:
    """What every row of a session is found by: its id, and its meeting occurrence (the events')."""

    id: str
    platform: str
    occurrence_id: str


@dataclass
class Removal:
    """What a purge or a forget removed (or, in a dry run, would remove): rows per table, and the sessions."""

    counts: Counter[str] = field(default_factory=Counter)
    session_ids: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def session_clauses(sessions: Sequence[SessionKey]) -> list[Clause]:
    """Return where every row of these sessions is: deliveries before their notices, the session row last."""
    clauses: list[Clause] = []
    for chunk in _chunks(sessions):
        ids = [s.id for s in chunk]
        clauses += [
            (D, D.c.notice_id.in_(select(N.c.id).where(N.c.session_id.in_(ids)))),
            (N, N.c.session_id.in_(ids)),
            (schema.notes, schema.notes.c.session_id.in_(ids)),
            (schema.checklist_ticks, schema.checklist_ticks.c.session_id.in_(ids)),
            (W, W.c.session_id.in_(ids)),
            (schema.session_clients, schema.session_clients.c.session_id.in_(ids)),
            (L, L.c.session_id.in_(ids)),
            (schema.bot_calls, schema.bot_calls.c.session_id.in_(ids)),
            (schema.stream_leases, schema.stream_leases.c.session_id.in_(ids)),
        ]
        clauses += _occurrence_clauses([(s.platform, s.occurrence_id) for s in chunk])
        clauses.append((S, S.c.id.in_(ids)))
    return clauses


def _occurrence_clauses(occurrences: Sequence[tuple[str, str]]) -> list[Clause]:
    by_platform: dict[str, list[str]] = {}
    for platform, occurrence_id in occurrences:
        by_platform.setdefault(platform, []).append(occurrence_id)
    return [(E, and_(E.c.platform == platform, E.c.occurrence_id.in_(ids))) for platform, ids in sorted(by_platform.items())]


def appointment_clauses(reminder_ids: Sequence[int], reminder_keys: Sequence[str]) -> list[Clause]:
    """Return where the rows of past appointments are: their reminders' notices and deliveries, ticks and reminder rows."""
    clauses: list[Clause] = []
    for keys in _chunks(reminder_keys):
        sessionless = and_(N.c.session_id.is_(None), N.c.key.in_(keys))
        clauses += [(D, D.c.notice_id.in_(select(N.c.id).where(sessionless))), (N, sessionless)]
        ticks = schema.checklist_ticks
        clauses.append((ticks, ticks.c.session_id.in_([appointment_id_for(k) for k in keys])))
    clauses += [(W, W.c.id.in_(ids)) for ids in _chunks(reminder_ids)]
    return clauses


async def apply(conn: AsyncConnection, clauses: Sequence[Clause]) -> Counter[str]:
    """Delete the rows the clauses find, in their order; return how many went from each table.

    A dry run deletes too, and rolls back: its counts are exactly what would go, with no row counted twice.
    """
    counts: Counter[str] = Counter()
    for table, where in clauses:
        counts[table.name] += (await conn.execute(delete(table).where(where))).rowcount
    return +counts


@asynccontextmanager
async def writing(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Yield a connection in a transaction that may read, then delete; commit at the end.

    SQLite: BEGIN IMMEDIATE, since a transaction that read first cannot always start writing later (WAL).
    """
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            await conn.begin()
        yield conn
        await conn.commit()


class Retention:
    """The purge of whatever is older than the retention limit: sessions ended before it, and rows of no session."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def purge(self, limit: datetime, now: datetime, dry_run: bool = False, due_row: int | None = None) -> Removal | None:
        """Remove (or count) every row older than `limit`; return what went.

        With `due_row`, the row of the day's purge is marked done in the same transaction, first: only
        the caller whose update finds it pending purges (another instance's waits on the row, then
        finds it done, and None is returned); a purge that fails leaves it pending, to run again.
        """
        async with writing(self._engine) as conn:
            if due_row is not None:
                claim = update(W).where(W.c.id == due_row, W.c.done_at.is_(None)).values(done_at=to_stamp(now), outcome=FIRED)
                if not (await conn.execute(claim)).rowcount:
                    await conn.rollback()
                    return None
            sessions = await self._ended_before(conn, limit)
            clauses = session_clauses(sessions) + await self._leftovers(conn, limit)
            removal = Removal(await apply(conn, clauses), sorted(s.id for s in sessions))
            if dry_run:
                await conn.rollback()
            return removal

    @staticmethod
    async def _ended_before(conn: AsyncConnection, limit: datetime) -> list[SessionKey]:
        """Return the sessions that ended before `limit` (a live session has no end, and stays)."""
        reported = func.max(case((E.c.kind == MeetingEnded.kind, E.c.at)))
        closed = func.min(case((E.c.kind == SessionClosed.kind, E.c.at)))
        query = (
            select(S.c.id, S.c.platform, S.c.occurrence_id, reported.label("reported"), closed.label("closed"))
            .join(E, and_(E.c.platform == S.c.platform, E.c.occurrence_id == S.c.occurrence_id))
            .where(E.c.kind.in_((MeetingEnded.kind, SessionClosed.kind)))
            .group_by(S.c.id, S.c.platform, S.c.occurrence_id)
        )
        rows = (await conn.execute(query)).all()
        return [SessionKey(r.id, r.platform, r.occurrence_id) for r in rows if ended_before(r.reported, r.closed, limit)]

    @staticmethod
    async def _leftovers(conn: AsyncConnection, limit: datetime) -> list[Clause]:
        """Return where the old rows of no session are: a stream's events no session claimed, past appointments, and
        notices and finished work of no session."""
        stamp = to_stamp(limit)
        owned = exists().where(S.c.platform == E.c.platform, S.c.occurrence_id == E.c.occurrence_id)
        orphans = (
            select(E.c.platform, E.c.occurrence_id).where(~owned)
            .group_by(E.c.platform, E.c.occurrence_id).having(func.max(E.c.received_at) < stamp)
        )
        occurrences = [(r.platform, r.occurrence_id) for r in (await conn.execute(orphans)).all()]
        finished = and_(W.c.session_id.is_(None), W.c.done_at.is_not(None), W.c.done_at < stamp)
        reminders = (await conn.execute(select(W.c.id, W.c.key).where(finished, W.c.kind == CHECKLIST_REMINDER))).all()
        clauses = [c for chunk in _chunks(occurrences) for c in _occurrence_clauses(chunk)]
        clauses += appointment_clauses([r.id for r in reminders], [r.key for r in reminders])
        old_notices = and_(N.c.session_id.is_(None), N.c.raised_at < stamp)
        clauses += [(D, D.c.notice_id.in_(select(N.c.id).where(old_notices))), (N, old_notices), (W, finished)]
        clauses.append((L, ~exists().where(S.c.id == L.c.session_id)))  # a list row whose session went while it was judged
        return clauses

