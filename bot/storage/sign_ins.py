"""Keep the therapists' password hashes and their failed sign-ins, so a lock-out outlives a restart."""
from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.lockout import FAILURE_WINDOW, lock_until
from bot.core.timefmt import from_iso, to_stamp

from . import schema

_LOGGER = logging.getLogger(__name__)


class SignInRecords:
    """Password hashes (never the passwords) and the failures that lock an account for a while."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def set_password(self, therapist_id: str, password_hash: str, now: datetime) -> None:
        """Store a therapist's new password hash, replacing any before it, and lift any lock."""
        t = schema.passwords
        statement = self._insert(t).values(therapist_id=therapist_id, hash=password_hash, set_at=to_stamp(now))
        async with self._engine.begin() as conn:
            await conn.execute(statement.on_conflict_do_update(index_elements=[t.c.therapist_id], set_={"hash": password_hash, "set_at": to_stamp(now)}))
            await conn.execute(delete(schema.sign_in_locks).where(schema.sign_in_locks.c.therapist_id == therapist_id))
            await conn.execute(delete(schema.sign_in_failures).where(schema.sign_in_failures.c.therapist_id == therapist_id))
            pages = schema.page_sign_ins  # a new password ends every sign-in made with the old one
            await conn.execute(update(pages).where(pages.c.therapist_id == therapist_id, pages.c.ended_at.is_(None)).values(ended_at=to_stamp(now)))

    async def start(self, therapist_id: str, now: datetime, keep: timedelta) -> str:
        """Record a new sign-in to the pages and return its id (forgetting sign-ins older than `keep`)."""
        t = schema.page_sign_ins
        sign_in_id = secrets.token_urlsafe(24)
        async with self._engine.begin() as conn:
            await conn.execute(delete(t).where(t.c.started_at < to_stamp(now - keep)))
            await conn.execute(t.insert().values(id=sign_in_id, therapist_id=therapist_id, started_at=to_stamp(now)))
        return sign_in_id

    async def active(self, sign_in_id: str, therapist_id: str) -> bool:
        """Return whether this sign-in of the therapist's is still on (not signed out, no new password since)."""
        t = schema.page_sign_ins
        query = select(t.c.id).where(t.c.id == sign_in_id, t.c.therapist_id == therapist_id, t.c.ended_at.is_(None))
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def end(self, sign_in_id: str, now: datetime) -> None:
        """End a sign-in (signing out): its cookie no longer signs anybody in, wherever it is kept."""
        t = schema.page_sign_ins
        async with self._engine.begin() as conn:
            await conn.execute(update(t).where(t.c.id == sign_in_id, t.c.ended_at.is_(None)).values(ended_at=to_stamp(now)))

    async def password_hash(self, therapist_id: str) -> str | None:
        """Return a therapist's password hash, or None if no password was set."""
        async with self._engine.connect() as conn:
            return (await conn.execute(select(schema.passwords.c.hash).where(schema.passwords.c.therapist_id == therapist_id))).scalar()

    async def locked_until(self, therapist_id: str, now: datetime) -> datetime | None:
        """Return until when the account is locked, or None if it is not locked now."""
        t = schema.sign_in_locks
        async with self._engine.connect() as conn:
            stamp = (await conn.execute(select(t.c.until).where(t.c.therapist_id == therapist_id))).scalar()
        try:
            until = from_iso(stamp) if stamp else None
        except ValueError:
            _LOGGER.warning("the sign-in lock of therapist %s cannot be read: treated as locked for the full time", therapist_id)
            return lock_until(10**6, now)
        return until if until is not None and until > now else None

    async def failed(self, therapist_id: str, now: datetime) -> datetime | None:
        """Count a failed sign-in; return until when the account is now locked, or None."""
        t = schema.sign_in_failures
        async with self._engine.begin() as conn:
            await conn.execute(delete(t).where(t.c.therapist_id == therapist_id, t.c.at < to_stamp(now - FAILURE_WINDOW)))
            await conn.execute(t.insert().values(therapist_id=therapist_id, at=to_stamp(now)))
            count = (await conn.execute(select(func.count()).select_from(t).where(t.c.therapist_id == therapist_id))).scalar_one()
            until = lock_until(count, now)
            if until is not None:
                locks = schema.sign_in_locks
                statement = self._insert(locks).values(therapist_id=therapist_id, until=to_stamp(until))
                await conn.execute(statement.on_conflict_do_update(index_elements=[locks.c.therapist_id], set_={"until": to_stamp(until)}))
                await conn.execute(delete(t).where(t.c.therapist_id == therapist_id))
        if until is not None:
            _LOGGER.warning("therapist %s is locked out of the pages after repeated wrong passwords", therapist_id)
        return until

    async def succeeded(self, therapist_id: str) -> None:
        """Forget an account's failures after a good sign-in."""
        async with self._engine.begin() as conn:
            await conn.execute(delete(schema.sign_in_failures).where(schema.sign_in_failures.c.therapist_id == therapist_id))
