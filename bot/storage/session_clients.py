"""Keep the client code each session was recorded with, so later changes to a profile never rename it."""
from __future__ import annotations

from typing import Collection, Mapping

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from . import schema
from .shared_reads import reading
from .store import SessionRow

# Built once with bind parameters, as each group of judgings reads it (see bot/storage/store.py).
_WITH_SESSIONS = (
    select(schema.sessions, schema.session_clients.c.code)
    .outerjoin(schema.session_clients, schema.session_clients.c.session_id == schema.sessions.c.id)
    .where(schema.sessions.c.id.in_(bindparam("session_ids", expanding=True)))
)

class SessionClients:
    """A session's client code, kept once: the first kept stays."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def keep(self, therapist_id: str, codes: Mapping[str, str]) -> None:
        """Keep each session's client code (session id: code) unless one is kept already."""
        if not codes:
            return
        rows = [dict(session_id=session_id, therapist_id=therapist_id, code=code) for session_id, code in codes.items()]
        async with self._engine.begin() as conn:
            await conn.execute(self._insert(schema.session_clients).on_conflict_do_nothing(), rows)

    async def code(self, session_id: str) -> str | None:
        """Return the client code kept for a session, if any."""
        t = schema.session_clients
        async with reading(self._engine) as conn:  # a judging's: on the connection its reads share
            return (await conn.execute(select(t.c.code).where(t.c.session_id == session_id))).scalar()

    async def with_sessions(self, session_ids: Collection[str]) -> dict[str, tuple[SessionRow, str | None]]:
        """Return each of these sessions that exists, with the client code kept for it (None: none kept), in one query."""
        s = schema.sessions
        async with reading(self._engine) as conn:  # a group's judging's too: on the connection its reads share
            rows = (await conn.execute(_WITH_SESSIONS, {"session_ids": list(session_ids)})).all()
        return {row.id: (SessionRow(**{c.name: row._mapping[c] for c in s.columns}), row.code) for row in rows}

    async def kept(self, therapist_id: str) -> set[str]:
        """Return the ids of the therapist's sessions that keep a client code."""
        t = schema.session_clients
        async with self._engine.connect() as conn:
            return set((await conn.execute(select(t.c.session_id).where(t.c.therapist_id == therapist_id))).scalars())

    async def codes(self) -> dict[str, set[str]]:
        """Return each code a session keeps, with the therapists whose sessions keep it."""
        t = schema.session_clients
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(t.c.code, t.c.therapist_id).distinct())).all()
        found: dict[str, set[str]] = {}
        for row in rows:
            found.setdefault(row.code, set()).add(row.therapist_id)
        return found
