"""Platform subscriptions in SQLite and PostgreSQL: kept, renewed, matched by clientState, listed by expiry and meeting end, forgotten."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.storage import schema
from bot.storage.store import Store, create_engine
from bot.storage.subscriptions import Subscription, SubscriptionStore
from tests.conftest import storage_keys

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
SUB = Subscription("sub-1", "teams", "t1", "jabc", "communications/x/meetingCallEvents", NOW + timedelta(days=2), "https://join/1", NOW + timedelta(hours=1))


@pytest.fixture
async def engine(storage_url):
    engine = create_engine(storage_url)
    await Store(engine, storage_keys()).upgrade()
    yield engine
    await engine.dispose()


async def test_a_subscription_matches_only_its_own_client_state_on_its_own_platform(engine):
    store = SubscriptionStore(engine)
    await store.put(SUB, "state-1", NOW)
    assert await store.matching("teams", "sub-1", "state-1") == SUB
    assert await store.matching("teams", "sub-1", "state-2") is None
    assert await store.matching("teams", "sub-1", "") is None
    assert await store.matching("zoom", "sub-1", "state-1") is None
    assert await store.matching("teams", "sub-2", "state-1") is None
    assert await store.get("teams", "sub-1") == SUB and await store.get("zoom", "sub-1") is None
    async with engine.connect() as conn:
        (row,) = (await conn.execute(select(schema.platform_subscriptions))).all()
    assert "state-1" not in str(tuple(row))


async def test_a_renewal_keeps_one_row_and_the_expiry_lists_follow_it(engine):
    store = SubscriptionStore(engine)
    await store.put(SUB, "state-1", NOW)
    other = Subscription("sub-2", "teams", "t2", "jdef", "r", NOW + timedelta(hours=1))
    await store.put(other, "state-9", NOW)
    assert await store.expiring("teams", NOW + timedelta(days=1)) == [other]
    await store.update("sub-2", NOW, expires_at=NOW + timedelta(days=3))  # renewed: the clientState stays
    renewed = Subscription(**{**other.__dict__, "expires_at": NOW + timedelta(days=3)})
    assert await store.expiring("teams", NOW + timedelta(days=1)) == []
    assert await store.matching("teams", "sub-2", "state-9") == renewed
    assert await store.of_therapist("teams", "t2") == [renewed] and await store.of_therapist("teams", "t1") == [SUB]
    await store.remove("sub-1")
    assert await store.of_therapist("teams", "t1") == [] and await store.get("teams", "sub-1") is None


async def test_subscriptions_are_listed_once_their_meeting_has_ended(engine):
    store = SubscriptionStore(engine)
    await store.put(SUB, "state-1", NOW)
    await store.put(Subscription("sub-2", "teams", "t1", "jdef", "r", NOW + timedelta(days=2)), "state-2", NOW)  # no planned end
    assert await store.meetings_ended("teams", NOW + timedelta(minutes=59)) == []
    assert await store.meetings_ended("teams", NOW + timedelta(hours=2)) == [SUB]
    await store.update("sub-1", NOW, meeting_ends_at=NOW + timedelta(hours=3))  # the meeting moved
    assert await store.meetings_ended("teams", NOW + timedelta(hours=2)) == []
