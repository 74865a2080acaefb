"""The therapist's session list, kept a row per session at every judging, so that listing reads rows, not events."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import and_, bindparam, or_, select
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


_ENTRY = ("session_id", "therapist_id", "client_code", "status", "started_at", "ended_at", "profiles", "judged_at")


def _keep_entry(insert: Any) -> Any:
    """Return the upsert of a session's entry, with its columns as bind parameters: built once, as each judging writes it."""
    t = schema.session_listing
    new = insert(t).values({name: bindparam(name) for name in _ENTRY})
    newer = {name: new.excluded[name] for name in _ENTRY if name != "session_id"}
    # Two judgings of one session may finish out of order: the later judgment's entry stays. A judgment that
    # changes nothing writes nothing (a redelivered event changes no row).
    changed = or_(*(t.c[name].is_distinct_from(value) for name, value in newer.items() if name != "judged_at"))
    return new.on_conflict_do_update(
        index_elements=[t.c.session_id], set_=newer, where=and_(t.c.judged_at <= new.excluded.judged_at, changed)
    )


class SessionList:
    """Each session's list entry, kept beside it (table `session_listing`) and read with the sessions in one query."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._keep = _keep_entry(postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert)

    async def keep(self, session: SessionRow, entry: ListedSession, profiles: str, judged_at: datetime) -> None:
        """Keep the session's entry as judged at `judged_at`, unless one judged later is kept already."""
        async with self._engine.begin() as conn:
            await self.keep_in(conn, [(session, entry, profiles, judged_at)])

    async def keep_in(self, conn: AsyncConnection, entries: Sequence[tuple[SessionRow, ListedSession, str, datetime]]) -> None:
        """Keep each session's entry as `keep` does, in the caller's transaction, in one statement (its rows as many parameters)."""
        values = [
            dict(
                session_id=session.id, therapist_id=session.therapist_id, client_code=entry.client_code, status=entry.status,
                started_at=entry.started_at, ended_at=entry.ended_at, profiles=profiles, judged_at=to_stamp(judged_at),
            )
            for session, entry, profiles, judged_at in entries
        ]
        await conn.execute(self._keep, values)

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
