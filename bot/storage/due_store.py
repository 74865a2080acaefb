"""Keep due work in the service's database: the source of truth the scheduler reconciles from."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import CompoundSelect, Row, Select, bindparam, func, literal_column, null, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.due_work import CANCELLED, DueRow, DueWork, NoticeSpec
from bot.core.events import MeetingRef
from bot.core.timefmt import from_iso, to_stamp

from . import schema
from .cluster_link import notify
from .notices import NoticeRow
from .shared_reads import reading
from .store import Store

# Told the ids of due_work rows written, moved or finished (at commit): the leader plans them (bot/timekeeping/leadership.py).
DUE_CHANNEL = "companion_due"


def _row(row: Row) -> DueRow:
    work = DueWork(
        key=row.key,
        kind=row.kind,
        due_at=from_iso(row.due_at),
        therapist_id=row.therapist_id,
        session_id=row.session_id,
        data=json.loads(row.data),
    )
    return DueRow(row.id, work, from_iso(row.done_at) if row.done_at else None, row.outcome)


def key_pattern(prefix: str) -> str:
    """Return the LIKE pattern (escaped with "/", as startswith's autoescape) of the keys that start with `prefix`."""
    return "".join("/" + c if c in "/%_" else c for c in prefix) + "%"


_ROW_COLUMNS = [schema.due_work.c[name] for name in ("id", "key", "kind", "due_at", "therapist_id", "session_id", "data", "done_at", "outcome")]


@dataclass(frozen=True)
class SessionDue:
    """What a session's judging reads of it in one statement (or a group's reads for it: see bot/tracking/warm_up.py): its
    meeting's reminders (those near its start, at least), when each point of its checklist was confirmed, and (read for its
    evaluation, else empty) its pending timers and its notices' ids by key."""

    reminders: list[DueRow]
    ticks: dict[str, datetime]
    pending: list[DueRow]
    notice_ids: dict[str, int]


@functools.cache
def _session_due_query(reminders: bool, evaluating: bool) -> Select | CompoundSelect:
    """Return the query of a session's checklist ticks, beside (with `reminders`) a therapist's rows of one kind keyed from a
    prefix and due in a window, and (with `evaluating`) the session's pending rows and notices: each row marked with its part.

    Built once each with bind parameters (see bot/storage/store.py): every judging reads one.
    """
    t, ticks, notices = schema.due_work, schema.checklist_ticks, schema.notices

    def part(name: str) -> Any:
        return literal_column(f"'{name}'").label("part")

    # A tick comes as a row with no id: its point in the key's place, its time in due_at's; a notice as its id and key.
    columns = ((ticks.c.item_id if c is t.c.key else ticks.c.confirmed_at if c is t.c.due_at else null()).label(c.name) for c in _ROW_COLUMNS)
    parts = [select(part(_TICK), *columns).where(ticks.c.session_id == bindparam("session_id"))]
    if reminders:
        parts.append(
            select(part(_REMINDER), *_ROW_COLUMNS).where(t.c.kind == bindparam("kind"), t.c.therapist_id == bindparam("therapist_id")).where(
                t.c.key.like(bindparam("key_pattern"), escape="/"), t.c.due_at >= bindparam("due_from"), t.c.due_at <= bindparam("due_to")
            )
        )
    if evaluating:
        ids = ((notices.c.id if c is t.c.id else notices.c.key if c is t.c.key else null()).label(c.name) for c in _ROW_COLUMNS)
        parts.append(select(part(_PENDING), *_ROW_COLUMNS).where(t.c.session_id == bindparam("session_id"), t.c.done_at.is_(None)))
        parts.append(
            select(part(_NOTICE), *ids).where(notices.c.therapist_id == bindparam("notice_therapist_id"), notices.c.session_id == bindparam("session_id"))
        )
    return union_all(*parts).order_by("part", "due_at", "id") if len(parts) > 1 else parts[0]


_TICK, _REMINDER, _PENDING, _NOTICE = "t", "r", "p", "n"


@functools.cache
def _plan_or_move(insert: Any) -> Any:
    """Return the upsert of due work, its values bound at each call: a new row, or the pending one moved (built once a dialect)."""
    t = schema.due_work
    new = insert(t)
    return new.on_conflict_do_update(
        index_elements=[t.c.key], set_=dict(due_at=new.excluded.due_at, data=new.excluded.data), where=t.c.done_at.is_(None)
    ).returning(*t.c)


@functools.cache
def _pending_query(*names: str) -> Select:
    """Return the query of the pending rows, soonest first, of the values bound to `names` (columns): built once each."""
    t = schema.due_work
    return select(t).where(t.c.done_at.is_(None), *(t.c[name] == bindparam(name) for name in names)).order_by(t.c.due_at, t.c.id)


class DueStore:
    """Due work rows: planned once by key, moved while pending, and finished exactly once."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._engine = store.engine
        self._insert = postgresql.insert if store.engine.dialect.name == "postgresql" else sqlite.insert
        self._upsert = _plan_or_move(self._insert)

    async def put(self, work: DueWork, now: datetime) -> DueRow | None:
        """Plan `work`, or move it if it is still pending; return the pending row, None if already done."""
        async with self._engine.begin() as conn:
            row = (await self.put_in(conn, [(work, now)])).get(work.key)
            if row is not None:
                await notify(conn, DUE_CHANNEL, [str(row.id)])
            return row

    async def put_in(self, conn: AsyncConnection, planned: Sequence[tuple[DueWork, datetime]]) -> dict[str, DueRow]:
        """Plan each work (at its `now`), or move it if still pending, in the caller's transaction, in one statement;
        return the pending rows by key (a row already done is left as it is, and is not among them)."""
        if not planned:
            return {}
        values = [
            dict(
                key=work.key, kind=work.kind, due_at=to_stamp(work.due_at), therapist_id=work.therapist_id,
                session_id=work.session_id, data=json.dumps(dict(work.data), sort_keys=True), created_at=to_stamp(now),
            )
            for work, now in {work.key: (work, now) for work, now in planned}.values()  # the last plan of a key wins
        ]
        # Many rows as parameters are still one INSERT ("insertmanyvalues").
        rows = (await conn.execute(self._upsert, values if len(values) > 1 else values[0])).all()
        return {row.key: _row(row) for row in rows}

    async def cancel_in(self, conn: AsyncConnection, cancelled: Sequence[tuple[int, datetime]]) -> set[int]:
        """Mark pending rows cancelled (each at its `now`) in the caller's transaction; return those that were pending."""
        t = schema.due_work
        done: set[int] = set()
        by_time: dict[datetime, list[int]] = {}
        for row_id, now in cancelled:
            by_time.setdefault(now, []).append(row_id)
        for now, ids in by_time.items():
            marked = update(t).where(t.c.id.in_(ids), t.c.done_at.is_(None)).values(done_at=to_stamp(now), outcome=CANCELLED)
            done.update((await conn.execute(marked.returning(t.c.id))).scalars())
        return done

    async def among(self, row_ids: Sequence[int]) -> list[DueRow]:
        """Return the rows of these ids, pending or done, in one query (one not found is left out)."""
        if not row_ids:
            return []
        query = select(schema.due_work).where(schema.due_work.c.id.in_(row_ids))
        async with reading(self._engine) as conn:
            return [_row(row) for row in (await conn.execute(query)).all()]

    async def get(self, row_id: int) -> DueRow | None:
        """Return one row, pending or done."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(schema.due_work).where(schema.due_work.c.id == row_id))).first()
        return _row(row) if row else None

    async def pending(
        self, kind: str | None = None, session_id: str | None = None, therapist_id: str | None = None
    ) -> list[DueRow]:
        """Return pending rows, soonest first, optionally of one kind, session or therapist."""
        values = {name: value for name, value in (("kind", kind), ("session_id", session_id), ("therapist_id", therapist_id)) if value}
        async with reading(self._engine) as conn:  # after each judging, a session's: no transaction on PostgreSQL
            return [_row(row) for row in (await conn.execute(_pending_query(*values), values)).all()]

    async def rows(self, kind: str, therapist_id: str, due_from: datetime | None = None, due_to: datetime | None = None) -> list[DueRow]:
        """Return a therapist's rows of one kind, pending or done, optionally due within a window."""
        t = schema.due_work
        query = select(t).where(t.c.kind == kind, t.c.therapist_id == therapist_id).order_by(t.c.due_at, t.c.id)
        if due_from is not None:
            query = query.where(t.c.due_at >= to_stamp(due_from))
        if due_to is not None:
            query = query.where(t.c.due_at <= to_stamp(due_to))
        async with self._engine.connect() as conn:
            return [_row(row) for row in (await conn.execute(query)).all()]

    async def session_due(
        self, kind: str, therapist_id: str, window: tuple[datetime, datetime] | None, session_id: str, key_prefix: str = "", evaluating: bool = False
    ) -> SessionDue:
        """Return `rows(kind, therapist_id, *window)` keyed from `key_prefix` (none without a window) and, read in the same
        statement, when each point of session `session_id`'s checklist was confirmed; with `evaluating`, its pending rows
        (soonest first) and its notices' ids by key too."""
        values: dict[str, str] = {"session_id": session_id}
        if window is not None:
            values.update(kind=kind, therapist_id=therapist_id, due_from=to_stamp(window[0]), due_to=to_stamp(window[1]))
            values["key_pattern"] = key_pattern(key_prefix)
        if evaluating:
            values["notice_therapist_id"] = therapist_id
        async with reading(self._engine) as conn:
            found = (await conn.execute(_session_due_query(window is not None, evaluating), values)).all()
        return SessionDue(
            [_row(r) for r in found if r.part == _REMINDER],
            {r.key: from_iso(r.due_at) for r in found if r.part == _TICK},
            [_row(r) for r in found if r.part == _PENDING],
            {r.key: r.id for r in found if r.part == _NOTICE},
        )

    async def last_heard(self, meeting: MeetingRef, up_to: datetime | None = None) -> datetime | None:
        """Return when the service last received an event of this meeting occurrence (one of its own time up to `up_to`)."""
        t = schema.events
        query = select(func.max(t.c.received_at)).where(t.c.platform == meeting.platform, t.c.occurrence_id == meeting.occurrence_id)
        if up_to is not None:
            query = query.where(t.c.at <= to_stamp(up_to))
        async with reading(self._engine) as conn:
            stamp = (await conn.execute(query)).scalar()
        return from_iso(stamp) if stamp else None

    async def finish(
        self, row_id: int, outcome: str, now: datetime, notice: NoticeSpec | None = None
    ) -> tuple[bool, NoticeRow | None]:
        """Mark a pending row done and raise its notice in one transaction; return (was pending, new notice)."""
        t = schema.due_work
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(t).where(t.c.id == row_id, t.c.done_at.is_(None)).values(done_at=to_stamp(now), outcome=outcome)
            )
            if not result.rowcount:
                return False, None
            await notify(conn, DUE_CHANNEL, [str(row_id)])
            if notice is None:
                return True, None
            row = await self._store.insert_notice(
                conn, notice.therapist_id, notice.session_id, notice.kind, notice.key, notice.at, notice.message, now
            )
            return True, row

    async def finish_many(self, finished: Sequence[tuple[int, str, NoticeSpec | None]], now: datetime) -> list[NoticeRow]:
        """Mark pending rows done with their outcomes and raise their notices, all in one transaction; return the new notices.

        A row no longer pending is left as it is and raises nothing, as `finish` does.
        """
        t = schema.due_work
        by_outcome: dict[str, list[int]] = {}
        for row_id, outcome, _ in finished:
            by_outcome.setdefault(outcome, []).append(row_id)
        async with self._engine.begin() as conn:
            done: set[int] = set()
            for outcome, ids in by_outcome.items():
                marked = update(t).where(t.c.id.in_(ids), t.c.done_at.is_(None)).values(done_at=to_stamp(now), outcome=outcome)
                done.update((await conn.execute(marked.returning(t.c.id))).scalars())
            raised = [(notice, now) for row_id, _, notice in finished if notice is not None and row_id in done]
            new = await self._store.insert_notices(conn, raised) if raised else []
            await notify(conn, DUE_CHANNEL, [str(row_id) for row_id in sorted(done)])
        return [row for row in new if row is not None]
