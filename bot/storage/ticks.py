"""Keep the therapist's checklist confirmations: one tick per session and checklist point."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.timefmt import from_iso, to_stamp

from . import schema
from .shared_reads import reading


class TickStore:
    """Checklist ticks; ticking a point twice keeps the first time."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def tick(self, session_id: str, item_id: str, now: datetime) -> datetime:
        """Confirm a point of a session's checklist; return when it was first confirmed."""
        t = schema.checklist_ticks
        async with self._engine.begin() as conn:
            await conn.execute(
                self._insert(t).values(session_id=session_id, item_id=item_id, confirmed_at=to_stamp(now)).on_conflict_do_nothing()
            )
            stamp = (await conn.execute(select(t.c.confirmed_at).where(t.c.session_id == session_id, t.c.item_id == item_id))).scalar_one()
        return from_iso(stamp)

    async def ticks(self, session_id: str) -> dict[str, datetime]:
        """Return when each confirmed point of a session's checklist was confirmed."""
        t = schema.checklist_ticks
        async with reading(self._engine) as conn:  # a judging's: on the connection its reads share
            rows = (await conn.execute(select(t.c.item_id, t.c.confirmed_at).where(t.c.session_id == session_id))).all()
        return {row.item_id: from_iso(row.confirmed_at) for row in rows}
