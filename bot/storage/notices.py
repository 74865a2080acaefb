"""Keep the therapist's notices (with their deliveries) and notes: the part of the store they read."""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Sequence

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.due_work import NoticeSpec
from bot.core.record import Note
from bot.core.timefmt import from_iso, to_stamp

from . import schema
from .at_rest import AtRest
from .cluster_link import lock_key, notify
from .group_commit import GroupCommit
from .sealing import UNREADABLE_NOTE, Unreadable
from .shared_reads import reading

_LOGGER = logging.getLogger(__name__)
NOTICES_CHANNEL = "companion_notices"  # notified of new notice ids, at the commit that stores them
# Inserts of notices take turns until commit, so that notices commit in id order on every instance: one who has
# seen notice N has seen every notice below it, and reading `id > N` later skips none (see NoticeBoard.follow).
_TAKE_TURNS = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=lock_key("session-companion notices"))


# Built once with bind parameters, as the judging reads them (see bot/storage/store.py).
_NOTICE_IDS = select(schema.notices.c.key, schema.notices.c.id).where(
    schema.notices.c.therapist_id == bindparam("therapist_id"), schema.notices.c.session_id == bindparam("session_id")
)
_NOTICE_IDS_OF_KIND = _NOTICE_IDS.where(schema.notices.c.kind == bindparam("kind"))


@dataclass(frozen=True)
class NoticeRow:
    id: int
    therapist_id: str
    session_id: str | None
    kind: str
    key: str
    at: str
    message: str
    raised_at: str


def _notice_values(notice: NoticeSpec, now: datetime) -> dict[str, Any]:
    """Return a notice's row, without its id, as raised at `now`."""
    return dict(
        therapist_id=notice.therapist_id, session_id=notice.session_id, kind=notice.kind, key=notice.key,
        at=to_stamp(notice.at), message=notice.message, raised_at=to_stamp(now),
    )


@functools.cache
def _new_notices(insert: Any) -> Any:
    """Return the insert of notices not raised before, their values bound at each call (built once a dialect)."""
    t = schema.notices
    return insert(t).on_conflict_do_nothing().returning(t.c.id, t.c.therapist_id, t.c.key)


_NEW_DELIVERIES = schema.deliveries.insert().returning(schema.deliveries.c.id)  # a pending delivery per channel of a new notice


class NoticeRecords:
    """Notices, raised once per key, each with a pending delivery per channel; and the therapist's notes."""

    engine: AsyncEngine
    at_rest: AtRest  # the therapist's notes are kept sealed
    _insert: Any
    _channels_for: Callable[[str, str], Sequence[str]]  # (therapist id, notice kind)
    _notice_writes: GroupCommit[Any]  # notices raised at once share a commit

    async def raise_notice(
        self, therapist_id: str, session_id: str | None, kind: str, key: str, at: datetime, message: str, now: datetime
    ) -> NoticeRow | None:
        """Store a notice once; return it if it is new, None if it was raised before."""
        return await self._notice_writes.submit((therapist_id, session_id, kind, key, at, message, now))

    async def _write_notices(self, conn: AsyncConnection, batch: list[tuple[Any, ...]]) -> list[NoticeRow | None]:
        """Insert notices raised at once in one statement, and all their deliveries in one more."""
        return await self.insert_notices(conn, [(NoticeSpec(*args[:-1]), args[-1]) for args in batch])

    async def insert_notice(
        self,
        conn: AsyncConnection,
        therapist_id: str,
        session_id: str | None,
        kind: str,
        key: str,
        at: datetime,
        message: str,
        now: datetime,
    ) -> NoticeRow | None:
        """Insert a notice, and a pending delivery per enabled channel, in the caller's transaction (once per key)."""
        return (await self.insert_notices(conn, [(NoticeSpec(therapist_id, session_id, kind, key, at, message), now)]))[0]

    async def insert_notices(self, conn: AsyncConnection, raised: Sequence[tuple[NoticeSpec, datetime]]) -> list[NoticeRow | None]:
        """Insert notices, each once per key, with a pending delivery per enabled channel, in the caller's transaction.

        Return each notice's row in order, or None where its key was raised before (or earlier in `raised`).
        """
        values = [_notice_values(notice, now) for notice, now in raised]
        firsts: dict[tuple[str, str], dict[str, Any]] = {}
        for v in values:
            firsts.setdefault((v["therapist_id"], v["key"]), v)  # a key raised twice in one batch is written once
        new_ids: dict[tuple[str, str], int] = {}
        if firsts:
            # Many rows as parameters (not .values()): SQLAlchemy renders them as one INSERT ("insertmanyvalues").
            inserted = _new_notices(self._insert)
            if conn.dialect.name == "postgresql":  # SQLite has one writer at a time already
                await conn.execute(_TAKE_TURNS)
            new_ids = {(r.therapist_id, r.key): r.id for r in (await conn.execute(inserted, list(firsts.values()))).all()}
        rows: list[NoticeRow | None] = []
        for v in values:
            new_id = new_ids.pop((v["therapist_id"], v["key"]), None)  # popped: a key raised twice is new once
            rows.append(NoticeRow(id=new_id, **v) if new_id is not None else None)
        deliveries = [
            dict(
                notice_id=row.id,
                channel=channel,
                therapist_id=row.therapist_id,
                ordering_key=row.session_id or f"therapist:{row.therapist_id}",
                state="pending",
                attempts=0,
                next_attempt_at=row.raised_at,
                updated_at=row.raised_at,
            )
            for row in rows
            if row is not None
            for channel in self._channels_for(row.therapist_id, row.kind)
        ]
        if deliveries:  # the outbox: in the same transaction; RETURNING makes it one INSERT on asyncpg too, not one per row
            await conn.execute(_NEW_DELIVERIES, deliveries)
        await notify(conn, NOTICES_CHANNEL, [str(row.id) for row in rows if row is not None])
        return rows

    async def prompt_ids(self, therapist_id: str, session_id: str) -> dict[str, int]:
        """Return the ids of a session's note prompts by their keys (a prompt's id is what a note answers)."""
        return await self.notice_ids(therapist_id, session_id, "note_prompt")

    async def notice_ids(self, therapist_id: str, session_id: str, kind: str | None = None) -> dict[str, int]:
        """Return the ids of the notices raised for a session (only of `kind`, if given) by their keys."""
        values = {"therapist_id": therapist_id, "session_id": session_id}
        query = _NOTICE_IDS if kind is None else _NOTICE_IDS_OF_KIND
        async with reading(self.engine) as conn:
            return {row.key: row.id for row in (await conn.execute(query, values if kind is None else {**values, "kind": kind})).all()}

    async def notices(
        self, therapist_id: str, session_id: str | None = None, kind: str | None = None, limit: int = 200
    ) -> list[NoticeRow]:
        """Return a therapist's notices, newest first."""
        t = schema.notices
        query = select(t).where(t.c.therapist_id == therapist_id).order_by(t.c.id.desc()).limit(limit)
        if session_id:
            query = query.where(t.c.session_id == session_id)
        if kind:
            query = query.where(t.c.kind == kind)
        async with self.engine.connect() as conn:
            return [NoticeRow(**row._mapping) for row in (await conn.execute(query)).all()]

    async def notices_after(self, therapist_id: str, after_id: int, limit: int = 500) -> list[NoticeRow]:
        """Return a therapist's notices newer than `after_id`, oldest first (a stream resuming)."""
        t = schema.notices
        query = select(t).where(t.c.therapist_id == therapist_id, t.c.id > after_id).order_by(t.c.id).limit(limit)
        async with self.engine.connect() as conn:
            return [NoticeRow(**row._mapping) for row in (await conn.execute(query)).all()]

    async def notices_raised_after(self, after_id: int, limit: int = 500) -> list[NoticeRow]:
        """Return every therapist's notices newer than `after_id`, oldest first (an instance catching up with the others)."""
        t = schema.notices
        async with self.engine.connect() as conn:
            return [NoticeRow(**row._mapping) for row in (await conn.execute(select(t).where(t.c.id > after_id).order_by(t.c.id).limit(limit))).all()]

    async def last_notice_id(self) -> int:
        """Return the newest notice's id (0: none yet)."""
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.coalesce(func.max(schema.notices.c.id), 0)))).scalar_one())

    async def add_note(self, session_id: str, at: datetime, text: str, prompt_id: str | None) -> int:
        """Store a therapist's note, encrypted, and return its id."""
        sealed = self.at_rest.cipher.seal(text)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                schema.notes.insert()
                .values(session_id=session_id, at=to_stamp(at), text=sealed, prompt_id=prompt_id)
                .returning(schema.notes.c.id)
            )
            return int(result.scalar_one())

    async def notes(self, session_id: str) -> list[Note]:
        """Return a session's notes in time order; one no configured key opens reads as UNREADABLE_NOTE (logged by id)."""
        t = schema.notes
        query = select(t).where(t.c.session_id == session_id).order_by(t.c.at, t.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Note(from_iso(r.at), self._opened(r.id, r.text), r.prompt_id) for r in rows]

    def _opened(self, note_id: int, token: str) -> str:
        try:
            return self.at_rest.cipher.open(token)
        except Unreadable:
            _LOGGER.warning("note %s cannot be opened with the configured notes keys: shown as unreadable", note_id)
            return UNREADABLE_NOTE
