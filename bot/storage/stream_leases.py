"""Who holds each meeting's RTMS stream: a lease row per session, taken, renewed and released by instance id and epoch."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import ColumnElement, Float, bindparam, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import schema

# The database's clock, in seconds: every instance judges a lease by the same clock, whatever its own says.
_NOW = {
    "postgresql": literal_column("extract(epoch from clock_timestamp())::float8", Float),
    "sqlite": literal_column("((julianday('now') - 2440587.5) * 86400.0)", Float),
}


class LeaseLost(Exception):
    """The stream's lease is no longer the writer's: another instance took it (or it was released)."""


@dataclass(frozen=True)
class Lease:
    """A stream held: whose (an instance's id) and at which epoch (one more at each take)."""

    session_id: str
    owner: str
    epoch: int


class StreamLeases:
    """The stream leases in the shared database; `sole` (SQLite: one instance) takes a lease whatever holds it."""

    def __init__(self, engine: AsyncEngine, owner: str, sole: bool = False) -> None:
        self._engine = engine
        self.owner = owner
        self.sole = sole
        now = _NOW[engine.dialect.name]
        t = schema.stream_leases
        insert = (postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert)(t)
        lapsed: ColumnElement[bool] = (t.c.expires_at <= now) | (t.c.owner == bindparam("me"))
        # One statement: a new row at epoch 1, or one that lapsed (or is this instance's) taken at the next epoch.
        self._take = insert.values(
            session_id=bindparam("sid"), owner=bindparam("me"), epoch=1, expires_at=now + bindparam("seconds")
        ).on_conflict_do_update(
            index_elements=[t.c.session_id],
            set_={"owner": insert.excluded.owner, "epoch": t.c.epoch + 1, "expires_at": insert.excluded.expires_at},
            where=None if sole else lapsed,
        ).returning(t.c.epoch)
        self._renew = (
            update(t).where(t.c.owner == bindparam("me"), t.c.session_id.in_(bindparam("session_ids", expanding=True)))
            .values(expires_at=now + bindparam("seconds")).returning(t.c.session_id, t.c.epoch)
        )
        # Released: lapsed at once, its epoch kept, so that the next take still counts up.
        self._release = (
            update(t).where(t.c.session_id == bindparam("sid"), t.c.owner == bindparam("me"), t.c.epoch == bindparam("held_epoch"))
            .values(expires_at=0.0)
        )
        self._held = select(t.c.session_id).where(t.c.session_id.in_(bindparam("session_ids", expanding=True)), t.c.expires_at > now)

    async def take(self, session_id: str, seconds: float) -> Lease | None:
        """Take the stream's lease for `seconds` if none is held, it lapsed, or it is this instance's; None: another holds it."""
        async with self._engine.begin() as conn:
            epoch = (await conn.execute(self._take, {"sid": session_id, "me": self.owner, "seconds": seconds})).scalar()
        return None if epoch is None else Lease(session_id, self.owner, epoch)

    async def renew(self, leases: Sequence[Lease], seconds: float) -> list[Lease]:
        """Extend the leases still held as they were taken (same owner, same epoch); return those, the others are lost."""
        if not leases:
            return []
        values = {"me": self.owner, "session_ids": [lease.session_id for lease in leases], "seconds": seconds}
        async with self._engine.begin() as conn:
            held = {(row.session_id, row.epoch) for row in await conn.execute(self._renew, values)}
        return [lease for lease in leases if (lease.session_id, lease.epoch) in held]

    async def release(self, lease: Lease) -> None:
        """Give the lease up (a clean stop, or the meeting's stream ended): any instance may take it at once."""
        async with self._engine.begin() as conn:
            await conn.execute(self._release, {"sid": lease.session_id, "me": lease.owner, "held_epoch": lease.epoch})

    async def unheld(self, session_ids: Sequence[str]) -> list[str]:
        """Return those of the sessions whose stream no live lease holds: never taken, lapsed, or released."""
        if not session_ids:
            return []
        async with self._engine.connect() as conn:
            held = set((await conn.execute(self._held, {"session_ids": list(session_ids)})).scalars())
        return [s for s in session_ids if s not in held]


async def holds(conn: AsyncConnection, lease: Lease) -> bool:
    """Return whether `lease` still holds, in the caller's transaction; PostgreSQL keeps the row shared until it ends,
    so a takeover's update waits for the caller's writes, or the caller sees the new epoch."""
    t = schema.stream_leases
    query = select(t.c.epoch).where(t.c.session_id == lease.session_id, t.c.owner == lease.owner, t.c.epoch == lease.epoch)
    return (await conn.execute(query.with_for_update(read=True))).first() is not None
