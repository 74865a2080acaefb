"""Tickets to the notice stream: issued to a therapist, good once and for a minute, kept only as digests."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.timefmt import to_stamp

from . import schema

MAX_TICKET_CHARS = 64  # a ticket is 43; anything longer is no ticket, and is not hashed


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


class StreamTickets:
    """Single-use tickets in the database, so that any instance redeems a ticket another issued."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def issue(self, therapist_id: str, now: datetime, lifetime: timedelta) -> tuple[str, datetime]:
        """Return a new ticket of the therapist's and when it expires (expired tickets are cleared meanwhile)."""
        t = schema.stream_tickets
        ticket, expires = secrets.token_urlsafe(32), now + lifetime
        async with self._engine.begin() as conn:
            await conn.execute(delete(t).where(t.c.expires_at <= to_stamp(now)))
            await conn.execute(t.insert().values(digest=_digest(ticket), therapist_id=therapist_id, expires_at=to_stamp(expires)))
        return ticket, expires

    async def redeem(self, ticket: str, now: datetime) -> str | None:
        """Use a ticket up: return its therapist's id if it is good now, else None.

        One statement deletes the ticket and says whose it was: of two requests with the same ticket, on
        any instances, only the one whose delete finds the row gets a therapist.
        """
        if not (ticket.isascii() and 0 < len(ticket) <= MAX_TICKET_CHARS):
            return None
        t = schema.stream_tickets
        statement = delete(t).where(t.c.digest == _digest(ticket), t.c.expires_at > to_stamp(now)).returning(t.c.therapist_id)
        async with self._engine.begin() as conn:
            return (await conn.execute(statement)).scalar()
