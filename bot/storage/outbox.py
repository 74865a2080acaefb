"""The outbox: each notice's deliveries, claimed in the database before sending so none goes out twice."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import BindParameter, ColumnElement, FromClause, Update, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.timefmt import from_iso, to_stamp

from . import schema
from .delivery_changes import DeliveryChange, apply_changes
from .group_commit import GroupCommit
from .notices import NoticeRow
from .shared_reads import reading

D, N = schema.deliveries, schema.notices
UNFINISHED = ("pending", "sending")
COALESCED_KINDS = frozenset({"client_video_off"})


@dataclass(frozen=True)
class Delivery:
    """One notice on its way to one channel, claimed by this worker under `claim`."""

    id: int
    channel: str
    attempts: int
    claim: str
    notice: NoticeRow


@dataclass(frozen=True)
class DeliveryRecord:
    """A delivery as the operator sees it: identifiers, kind, channel, state, attempts, last failure and times; never text."""

    id: int
    notice_id: int
    therapist_id: str
    session_id: str | None
    kind: str
    channel: str
    state: str
    attempts: int
    last_error: str | None
    raised_at: str
    next_attempt_at: str
    updated_at: str


RECORDS = select(
    D.c.id, D.c.notice_id, D.c.therapist_id, N.c.session_id, N.c.kind, D.c.channel, D.c.state, D.c.attempts, D.c.last_error,
    N.c.raised_at, D.c.next_attempt_at, D.c.updated_at,
).join(N, N.c.id == D.c.notice_id)


def _claimable(rows: FromClause, now: ColumnElement[str]) -> ColumnElement[bool]:
    # Due and waiting, or claimed by a worker whose lease ran out (it died mid-send).
    return or_(
        and_(rows.c.state == "pending", rows.c.next_attempt_at <= now),
        and_(rows.c.state == "sending", rows.c.claimed_until < now),
    )


def _claim_statement() -> Update:
    """Return the one statement that claims a channel's due deliveries, built once: only its values change."""
    now: BindParameter[str] = bindparam("claim_now")
    # Picked from an alias: a subquery on the updated table itself would be correlated to the UPDATE.
    pick, earlier = D.alias("pick"), D.alias("earlier")
    waits_behind = exists().where(
        earlier.c.channel == pick.c.channel,
        earlier.c.ordering_key == pick.c.ordering_key,
        earlier.c.notice_id < pick.c.notice_id,
        earlier.c.state.in_(UNFINISHED),
    )
    # The state test before the others lets the index skip every finished row.
    # PostgreSQL: rows another instance is claiming right now are skipped, not waited for (SQLite has one writer).
    due = (
        select(pick.c.id)
        .where(pick.c.channel == bindparam("claim_channel"), pick.c.state.in_(UNFINISHED), _claimable(pick, now), ~waits_behind)
        .order_by(pick.c.notice_id)
        .limit(bindparam("claim_limit"))
        .with_for_update(skip_locked=True)
        # Picked once, before the update: PostgreSQL may otherwise run the subquery again as it joins and, skipping
        # the rows it has just locked itself, pick more than the limit.
        .cte("due")
        .prefix_with("MATERIALIZED")
    )
    return (
        update(D)
        .where(D.c.id.in_(select(due.c.id)), _claimable(D, now))  # checked again on the row itself as it is written
        .values(state="sending", claim=bindparam("claim_token"), claimed_until=bindparam("claim_until"), attempts=D.c.attempts + 1, updated_at=now)
        .returning(D.c.id, D.c.notice_id, D.c.attempts)
    )


CLAIM = _claim_statement()


def _carries(row: Any, delivery: Delivery, raised: datetime, window: timedelta) -> bool:
    """Return whether a like notice's delivery carries this one's news: sent just before it, or waiting just after."""
    if row.notice_id < delivery.notice.id:
        return bool(row.state == "sent" and row.raised_at >= to_stamp(raised - window))
    return bool(row.notice_id > delivery.notice.id and row.state in UNFINISHED and row.raised_at <= to_stamp(raised + window))


class Outbox:
    """Claim, finish and reschedule deliveries; every state change is guarded by the row's claim."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Finished sends share commits: under a burst one statement records many of them.
        self._changes: GroupCommit[DeliveryChange] = GroupCommit(engine, apply_changes)

    async def close(self) -> None:
        """Stop recording state changes (at shutdown)."""
        await self._changes.close()

    async def claim_due(
        self, channel: str, now: datetime, limit: int, lease: timedelta, known: Mapping[int, NoticeRow] | None = None
    ) -> list[Delivery]:
        """Claim up to `limit` due deliveries for a channel, each the oldest unfinished of its ordering key, in one statement.

        The notices in `known` (by id: handed over as they were raised) are not read again; any other is, in one more.
        """
        stamp, claim, known = to_stamp(now), uuid.uuid4().hex, known or {}
        values = dict(claim_channel=channel, claim_now=stamp, claim_limit=limit, claim_token=claim, claim_until=to_stamp(now + lease))
        async with self._engine.connect() as conn:
            if self._engine.dialect.name == "postgresql":  # the one statement is its own transaction: no BEGIN, no COMMIT trip
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            claimed = sorted((await conn.execute(CLAIM, values)).all(), key=lambda r: r.notice_id)
            await conn.commit()
        notices = {i: known[i] for i in {r.notice_id for r in claimed} & known.keys()}
        if missing := {r.notice_id for r in claimed} - notices.keys():  # raised elsewhere, or before a restart
            async with reading(self._engine) as conn:
                notices.update((r.id, NoticeRow(**r._mapping)) for r in (await conn.execute(select(N).where(N.c.id.in_(missing)))).all())
        return [Delivery(r.id, channel, r.attempts, claim, notices[r.notice_id]) for r in claimed if r.notice_id in notices]

    async def finish(self, delivery: Delivery, state: str, now: datetime, error: str | None = None) -> bool:
        """Mark a claimed delivery sent, failed or coalesced; False if the claim was lost."""
        return bool(await self._changes.submit(DeliveryChange(delivery.id, delivery.claim, state, to_stamp(now), error)))

    async def retry_at(self, delivery: Delivery, at: datetime, now: datetime, error: str) -> bool:
        """Put a claimed delivery back to wait until `at`; False if the claim was lost."""
        change = DeliveryChange(delivery.id, delivery.claim, "pending", to_stamp(now), error, to_stamp(at))
        return bool(await self._changes.submit(change))

    async def coalesced(self, deliveries: Sequence[Delivery], window: timedelta) -> set[int]:
        """Return the ids of the deliveries a burst already carries: a like notice sent just before, or one waiting after.

        One query for a whole claim, read through the deliveries' ordering index (a session's notices are keyed by it).
        """
        alike = [d for d in deliveries if d.notice.kind in COALESCED_KINDS and d.notice.session_id is not None]
        if not alike:
            return set()
        raised = {d.id: from_iso(d.notice.raised_at) for d in alike}
        sessions = sorted({str(d.notice.session_id) for d in alike})
        query = (
            select(D.c.channel, D.c.notice_id, D.c.state, N.c.session_id, N.c.kind, N.c.raised_at)
            .join(N, N.c.id == D.c.notice_id)
            .where(
                D.c.channel.in_(sorted({d.channel for d in alike})), D.c.ordering_key.in_(sessions), N.c.session_id.in_(sessions),
                N.c.kind.in_(sorted({d.notice.kind for d in alike})), D.c.state.in_(("sent", *UNFINISHED)),
                N.c.raised_at >= to_stamp(min(raised.values()) - window), N.c.raised_at <= to_stamp(max(raised.values()) + window),
            )
        )
        async with reading(self._engine) as conn:
            rows = (await conn.execute(query)).all()
        burst: dict[tuple[str, str, str], list[Any]] = {}
        for row in rows:
            burst.setdefault((row.channel, row.session_id, row.kind), []).append(row)
        return {d.id for d in alike if any(_carries(row, d, raised[d.id], window) for row in burst.get((d.channel, str(d.notice.session_id), d.notice.kind), ()))}

    async def mark_all_delivered(self, notice_ids: Iterable[int], channel: str, now: datetime) -> int:
        """Mark notices delivered on a channel that needs no worker (the dashboard stream), in one statement; return how many were not yet."""
        query = (
            update(D)
            .where(D.c.notice_id.in_(list(notice_ids)), D.c.channel == channel, D.c.state == "pending")
            .values(state="sent", attempts=D.c.attempts + 1, updated_at=to_stamp(now))
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(query)).rowcount

    async def states(self, notice_ids: Iterable[int]) -> dict[int, dict[str, str]]:
        """Return each notice's delivery state per channel."""
        ids = list(notice_ids)
        found: dict[int, dict[str, str]] = {i: {} for i in ids}
        if not ids:
            return found
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(D.c.notice_id, D.c.channel, D.c.state).where(D.c.notice_id.in_(ids)))).all()
        for row in rows:
            found[row.notice_id][row.channel] = row.state
        return found

    async def oldest_unfinished(self, channels: Iterable[str]) -> datetime | None:
        """Return when the oldest notice still to be sent on one of these channels was raised (None: nothing waits)."""
        waiting = D.join(N, N.c.id == D.c.notice_id)
        query = select(func.min(N.c.raised_at)).select_from(waiting).where(D.c.channel.in_(list(channels)), D.c.state.in_(UNFINISHED))
        async with self._engine.connect() as conn:
            raised = (await conn.execute(query)).scalar_one_or_none()
        return from_iso(raised) if raised else None
    async def records(self, failed_only: bool, limit: int) -> tuple[list[DeliveryRecord], int]:
        """Return the newest deliveries (the failed ones only, if asked), and how many there are in all."""
        where = [D.c.state == "failed"] if failed_only else []
        async with self._engine.connect() as conn:
            rows = (await conn.execute(RECORDS.where(*where).order_by(D.c.id.desc()).limit(limit))).all()
            total = (await conn.execute(select(func.count()).select_from(D).where(*where))).scalar_one()
        return [DeliveryRecord(**row._mapping) for row in rows], total

    async def retry_failed(self, delivery_id: int, now: datetime) -> tuple[DeliveryRecord | None, bool]:
        """Make a failed delivery pending again, due now, its attempts counted afresh (its last failure kept).

        Return the delivery as it is now (None: there is none) and whether it was retried.
        """
        stamp = to_stamp(now)
        again = update(D).where(D.c.id == delivery_id, D.c.state == "failed").values(state="pending", attempts=0, next_attempt_at=stamp, updated_at=stamp)
        async with self._engine.begin() as conn:
            retried = (await conn.execute(again)).rowcount == 1
            found = (await conn.execute(RECORDS.where(D.c.id == delivery_id))).first()
        return (DeliveryRecord(**found._mapping) if found is not None else None), retried
