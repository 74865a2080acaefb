"""Tell the other instances which sessions and deliveries changed (identifiers only), and read them back when told."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from . import schema
from .cluster_link import notify

CHANGES_CHANNEL = "companion_changes"


@dataclass(frozen=True)
class DeliveryState:
    """A delivery as another instance left it: whose notice, which channel, what state."""

    id: int
    notice_id: int
    therapist_id: str
    channel: str
    state: str


class ChangeNotes:
    """Notes on `companion_changes` of what changed, and the reads that tell what it is now."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def send(self, items: Iterable[str]) -> None:
        """Notify the other instances of `items` (identifiers), in a transaction of their own."""
        async with self._engine.begin() as conn:
            await notify(conn, CHANGES_CHANNEL, items)

    async def therapists(self, session_ids: Iterable[str]) -> dict[str, str]:
        """Return the therapist of each of these sessions that exists, by session id."""
        s = schema.sessions
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(s.c.id, s.c.therapist_id).where(s.c.id.in_(list(session_ids))))).all()
        return {row.id: row.therapist_id for row in rows}

    async def deliveries(self, delivery_ids: Iterable[int]) -> list[DeliveryState]:
        """Return these deliveries as they are now, in id order."""
        d = schema.deliveries
        query = select(d.c.id, d.c.notice_id, d.c.therapist_id, d.c.channel, d.c.state).where(d.c.id.in_(list(delivery_ids)))
        async with self._engine.connect() as conn:
            return [DeliveryState(**row._mapping) for row in (await conn.execute(query.order_by(d.c.id))).all()]
