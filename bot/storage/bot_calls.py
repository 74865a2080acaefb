"""Keep a platform's calling bot in a meeting's call: claimed once per session, its call id, state and roster position."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.events import MeetingRef
from bot.core.timefmt import to_stamp

from . import schema

CLAIMED, BUSY, TAKEN = "claimed", "busy", "taken"  # what a claim found: now ours, another's join in flight, done already
JOINING = "joining"  # claimed: the bot is being asked to join (no call id yet)
FAILED = "failed"  # the join was refused or the call could not be made
TERMINATED = "terminated"  # the platform ended the bot's call
HUNG_UP = "hung_up"  # the service ended it, with the meeting
OVER = frozenset({FAILED, TERMINATED, HUNG_UP})  # nothing more to do for the call


@dataclass(frozen=True)
class BotCall:
    """One session's calling bot: whose meeting, the platform's call id once joined, and where it stands."""

    session_id: str
    platform: str
    therapist_id: str
    meeting_id: str
    occurrence_id: str
    host_id: str
    call_id: str | None
    state: str
    roster_sequence: int | None = None
    participants_read: bool = False
    result: str = ""

    @property
    def meeting(self) -> MeetingRef:
        """Return the session's meeting (the occurrence its call events are stored under)."""
        return MeetingRef(self.platform, self.occurrence_id, self.meeting_id, self.host_id)

    @property
    def over(self) -> bool:
        return self.state in OVER


class BotCallStore:
    """The bot calls: written by the join, the callbacks, the keep-alive and the hang-up; read back after a restart."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def claim(self, session_id: str, therapist_id: str, meeting: MeetingRef, now: datetime, hold: timedelta) -> str:
        """Claim the session's bot for this caller: CLAIMED, else BUSY (another caller is joining) or TAKEN (joined or over).

        A claim left by a caller that never finished (a crash mid-join) lapses after `hold`, and may be taken again.
        """
        t = schema.bot_calls
        values = dict(
            session_id=session_id, platform=meeting.platform, therapist_id=therapist_id, meeting_id=meeting.meeting_id,
            occurrence_id=meeting.occurrence_id, host_id=meeting.host_id, state=JOINING,
            claimed_until=to_stamp(now + hold), participants_read=0, result="", created_at=to_stamp(now), updated_at=to_stamp(now),
        )
        async with self._engine.begin() as conn:
            inserted = await conn.execute(self._insert(t).values(**values).on_conflict_do_nothing())
            if inserted.rowcount:
                return CLAIMED
            lapsed = await conn.execute(
                update(t)
                .where(t.c.session_id == session_id, t.c.state == JOINING, t.c.call_id.is_(None), t.c.claimed_until <= to_stamp(now))
                .values(claimed_until=to_stamp(now + hold), updated_at=to_stamp(now))
            )
            if lapsed.rowcount:
                return CLAIMED
            row = (await conn.execute(select(t.c.state, t.c.call_id).where(t.c.session_id == session_id))).first()
            return BUSY if row is not None and row.state == JOINING and row.call_id is None else TAKEN

    async def release(self, session_id: str, now: datetime) -> None:
        """Give up a claim without joining (to be tried again): the claim lapses at once."""
        t = schema.bot_calls
        async with self._engine.begin() as conn:
            await conn.execute(
                update(t).where(t.c.session_id == session_id, t.c.state == JOINING, t.c.call_id.is_(None))
                .values(claimed_until=to_stamp(now), updated_at=to_stamp(now))
            )

    async def joined(self, session_id: str, call_id: str, state: str, now: datetime) -> bool:
        """Keep the call id the platform gave the bot, and the call's first state; False if the call was ended meanwhile."""
        t = schema.bot_calls
        where = (t.c.session_id == session_id) & (t.c.state == JOINING)
        return await self._set(where, now, call_id=call_id, state=state, claimed_until=None)

    async def set_state(self, session_id: str, state: str, now: datetime, result: str | None = None) -> bool:
        """Move the call to `state` (never out of an ended one); return whether it moved."""
        t = schema.bot_calls
        values: dict[str, Any] = {"state": state, "claimed_until": None}
        if result is not None:
            values["result"] = result[:64]
        return await self._set((t.c.session_id == session_id) & t.c.state.not_in(sorted(OVER)), now, **values)

    async def read_participants_once(self, session_id: str, now: datetime) -> bool:
        """Mark the participants as read; True for the one caller that marks them first."""
        t = schema.bot_calls
        return await self._set((t.c.session_id == session_id) & (t.c.participants_read == 0), now, participants_read=1)

    async def advance_sequence(self, session_id: str, sequence: int, now: datetime) -> bool:
        """Record the roster's sequence number if it is newer than the last one applied; False for a stale one."""
        t = schema.bot_calls
        newer = t.c.roster_sequence.is_(None) | (t.c.roster_sequence < sequence)
        return await self._set((t.c.session_id == session_id) & newer, now, roster_sequence=sequence)

    async def by_call(self, platform: str, call_id: str) -> BotCall | None:
        """Return the bot call with the platform's call id, or None."""
        t = schema.bot_calls
        return await self._one(select(t).where(t.c.platform == platform, t.c.call_id == call_id))

    async def by_session(self, session_id: str) -> BotCall | None:
        t = schema.bot_calls
        return await self._one(select(t).where(t.c.session_id == session_id))

    async def live(self, platform: str) -> list[BotCall]:
        """Return the platform's bot calls that are not over (joining or in a call), oldest first."""
        t = schema.bot_calls
        query = select(t).where(t.c.platform == platform, t.c.state.not_in(sorted(OVER))).order_by(t.c.created_at, t.c.session_id)
        async with self._engine.connect() as conn:
            return [_call(row) for row in (await conn.execute(query)).all()]

    async def _set(self, where: Any, now: datetime, **values: Any) -> bool:
        t = schema.bot_calls
        async with self._engine.begin() as conn:
            result = await conn.execute(update(t).where(where).values(updated_at=to_stamp(now), **values))
            return bool(result.rowcount)

    async def _one(self, query: Any) -> BotCall | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _call(row) if row is not None else None


def _call(row: Any) -> BotCall:
    r = row._mapping
    return BotCall(
        session_id=r["session_id"], platform=r["platform"], therapist_id=r["therapist_id"], meeting_id=r["meeting_id"],
        occurrence_id=r["occurrence_id"], host_id=r["host_id"], call_id=r["call_id"], state=r["state"],
        roster_sequence=r["roster_sequence"], participants_read=bool(r["participants_read"]), result=r["result"],
    )

