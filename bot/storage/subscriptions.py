"""Keep a platform's subscriptions to meeting events, and check a notification's clientState against them."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.timefmt import from_iso, to_stamp

from . import schema


def state_digest(client_state: str) -> str:
    """Return the digest kept in place of a clientState (a leaked database holds no usable secret)."""
    return hashlib.sha256(b"client-state:" + client_state.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Subscription:
    """One subscription: its platform id, whose meeting it follows, until when, and when that meeting ends."""

    subscription_id: str
    platform: str
    therapist_id: str
    meeting_id: str  # the meeting's key (a Teams meeting's: bot.core.join_urls.join_url_key)
    resource: str  # may hold the join URL: never logged
    expires_at: datetime
    join_url: str = ""  # admits anyone to the meeting: never logged
    meeting_ends_at: datetime | None = None  # its planned end: the subscription is deleted a while after


class SubscriptionStore:
    """The subscriptions a platform's subscription manager writes and its webhook reads."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def put(self, subscription: Subscription, client_state: str, now: datetime) -> None:
        """Keep a new subscription with its clientState (or replace the one of the same id)."""
        t = schema.platform_subscriptions
        values = dict(
            subscription_id=subscription.subscription_id, platform=subscription.platform,
            therapist_id=subscription.therapist_id, meeting_id=subscription.meeting_id,
            join_url=subscription.join_url, resource=subscription.resource,
            client_state_digest=state_digest(client_state), expires_at=to_stamp(subscription.expires_at),
            meeting_ends_at=_stamp(subscription.meeting_ends_at), updated_at=to_stamp(now),
        )
        insert = self._insert(t).values(**values)
        changed = {k: v for k, v in values.items() if k != "subscription_id"}
        async with self._engine.begin() as conn:
            await conn.execute(insert.on_conflict_do_update(index_elements=[t.c.subscription_id], set_=changed))

    async def update(self, subscription_id: str, now: datetime, *, expires_at: datetime | None = None, meeting_ends_at: datetime | None = None) -> None:
        """Move a subscription's expiry (renewed) or its meeting's planned end (the meeting moved); its clientState stays."""
        values: dict[str, Any] = {"updated_at": to_stamp(now)}
        if expires_at is not None:
            values["expires_at"] = to_stamp(expires_at)
        if meeting_ends_at is not None:
            values["meeting_ends_at"] = to_stamp(meeting_ends_at)
        t = schema.platform_subscriptions
        async with self._engine.begin() as conn:
            await conn.execute(update(t).where(t.c.subscription_id == subscription_id).values(**values))

    async def matching(self, platform: str, subscription_id: str, client_state: str) -> Subscription | None:
        """Return the subscription if `client_state` is its own (compared in constant time), else None."""
        row = await self._row(platform, subscription_id)
        given = state_digest(client_state)
        expected = row.client_state_digest if row is not None else state_digest("")  # same work either way
        if row is None or not hmac.compare_digest(given.encode(), expected.encode()):
            return None
        return _subscription(row)

    async def get(self, platform: str, subscription_id: str) -> Subscription | None:
        """Return a subscription by its id, or None if it is not (or no longer) kept."""
        row = await self._row(platform, subscription_id)
        return _subscription(row) if row is not None else None

    async def remove(self, subscription_id: str) -> None:
        """Forget a subscription (deleted, replaced, or removed by the platform)."""
        t = schema.platform_subscriptions
        async with self._engine.begin() as conn:
            await conn.execute(delete(t).where(t.c.subscription_id == subscription_id))

    async def expiring(self, platform: str, before: datetime) -> list[Subscription]:
        """Return the platform's subscriptions that expire before `before`, soonest first."""
        t = schema.platform_subscriptions
        return await self._listed(select(t).where(t.c.platform == platform, t.c.expires_at < to_stamp(before)).order_by(t.c.expires_at))

    async def meetings_ended(self, platform: str, before: datetime) -> list[Subscription]:
        """Return the platform's subscriptions whose meeting was planned to end before `before`."""
        t = schema.platform_subscriptions
        query = select(t).where(t.c.platform == platform, t.c.meeting_ends_at < to_stamp(before)).order_by(t.c.meeting_ends_at)
        return await self._listed(query)

    async def of_therapist(self, platform: str, therapist_id: str) -> list[Subscription]:
        """Return the subscriptions that follow one therapist's meetings, soonest to expire first."""
        t = schema.platform_subscriptions
        return await self._listed(select(t).where(t.c.platform == platform, t.c.therapist_id == therapist_id).order_by(t.c.expires_at))

    async def _row(self, platform: str, subscription_id: str) -> Any:
        t = schema.platform_subscriptions
        async with self._engine.connect() as conn:
            return (await conn.execute(select(t).where(t.c.platform == platform, t.c.subscription_id == subscription_id))).first()

    async def _listed(self, query: Any) -> list[Subscription]:
        async with self._engine.connect() as conn:
            return [_subscription(row) for row in (await conn.execute(query)).all()]


def _stamp(at: datetime | None) -> str | None:
    return to_stamp(at) if at is not None else None


def _subscription(row: Any) -> Subscription:
    r = row._mapping
    ends = r["meeting_ends_at"]
    return Subscription(
        subscription_id=r["subscription_id"], platform=r["platform"], therapist_id=r["therapist_id"],
        meeting_id=r["meeting_id"], resource=r["resource"], expires_at=from_iso(r["expires_at"]),
        join_url=r["join_url"], meeting_ends_at=from_iso(ends) if ends else None,
    )
