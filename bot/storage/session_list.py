"""The therapist's session list, kept a row per session at every judging, so that listing reads rows, not events."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.listing import ListedSession, readable
from bot.core.timefmt import to_stamp

from . import schema
from .store import SessionRow

_SESSION_COLUMNS = len(schema.sessions.columns)  # a row's first columns are the session's, in SessionRow's order


@dataclass(frozen=True)
class ListRow:
    """A listed session: its own row, and its kept entry with the profiles' mark it was judged under (None: none kept)."""

    session: SessionRow
    entry: ListedSession | None
    profiles: str | None


class SessionList:
    """Each session's list entry, kept beside it (table `session_listing`) and read with the sessions in one query."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def keep(self, session: SessionRow, entry: ListedSession, profiles: str, judged_at: datetime) -> None:
        """Keep the session's entry as judged at `judged_at`, unless one judged later is kept already."""
        async with self._engine.begin() as conn:
            await self.keep_in(conn, session, entry, profiles, judged_at)

    async def keep_in(self, conn: AsyncConnection, session: SessionRow, entry: ListedSession, profiles: str, judged_at: datetime) -> None:
        """Keep the session's entry as `keep` does, in the caller's transaction."""
        t = schema.session_listing
        values = dict(
            session_id=session.id, therapist_id=session.therapist_id, client_code=entry.client_code, status=entry.status,
            started_at=entry.started_at, ended_at=entry.ended_at, profiles=profiles, judged_at=to_stamp(judged_at),
        )
        insert = self._insert(t).values(values)
        newer = {k: v for k, v in values.items() if k != "session_id"}
        # Two judgings of one session may finish out of order: the later judgment's entry stays. A judgment that
        # changes nothing writes nothing (a redelivered event changes no row).
        changed = or_(*(t.c[k].is_distinct_from(insert.excluded[k]) for k in newer if k != "judged_at"))
        upsert = insert.on_conflict_do_update(
            index_elements=[t.c.session_id], set_=newer, where=and_(t.c.judged_at <= insert.excluded.judged_at, changed)
        )
        await conn.execute(upsert)

    async def rows(
        self, therapist_id: str, platform: str | None = None, occurrence_id: str | None = None, limit: int | None = None
    ) -> list[ListRow]:
        """Return a therapist's sessions as Store.sessions orders and filters them, each with its kept entry if any."""
        s, t = schema.sessions, schema.session_listing
        page = select(s).where(s.c.therapist_id == therapist_id).order_by(s.c.created_at.desc(), s.c.id).limit(limit)
        if platform:
            page = page.where(s.c.platform == platform)
        if occurrence_id:
            page = page.where(s.c.occurrence_id == occurrence_id)
        # The page of sessions first, then their rows: joined before the limit, every session's row would be looked up.
        p = page.subquery()
        query = (
            select(p, t.c.client_code, t.c.status, t.c.started_at.label("listed_start"), t.c.ended_at.label("listed_end"), t.c.profiles)
            .outerjoin(t, and_(t.c.session_id == p.c.id, t.c.therapist_id == p.c.therapist_id))
            .order_by(p.c.created_at.desc(), p.c.id)
        )
        async with self._engine.connect() as conn:
            found = (await conn.execute(query)).all()
        listed = []
        for row in found:
            session = SessionRow(*row[:_SESSION_COLUMNS])
            entry = None if row.profiles is None else readable(row.client_code, row.status, row.listed_start, row.listed_end)
            listed.append(ListRow(session, entry, row.profiles))
        return listed
