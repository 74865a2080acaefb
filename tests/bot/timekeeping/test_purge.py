"""The daily purge: a due-work row a day, carried out once however many instances share the database."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from bot.core.due_work import FIRED, RETENTION_PURGE
from bot.storage import retention
from bot.storage.retention import Removal
from bot.timekeeping.purge import DailyPurge
from bot.web import keys
from bot.web.app import create_app
from tests.bot.timekeeping.harness import Clock, Harness
from tests.fakes.records import row_counts, store_session, store_with_deliveries

NOW = datetime(2026, 11, 30, 0, 30, tzinfo=timezone.utc)


async def test_two_instances_plan_one_row_a_day_and_only_one_purges(make_settings, storage_url):
    settings = make_settings(storage_url, privacy={"retention_days": 365})
    clock = Clock(NOW)
    async with Harness(settings, clock) as one, Harness(settings, clock) as other:
        old = await store_session(one.store, "old", NOW - timedelta(days=400), NOW - timedelta(days=399))
        recent = await store_session(one.store, "recent", NOW - timedelta(days=364), NOW - timedelta(days=363))
        purges = [DailyPurge(one.keeper), DailyPurge(other.keeper)]
        told: list[Removal] = []
        for purge in purges:
            purge.purged.append(told.append)
            await purge.plan()
            await purge.plan()  # every hour, on every instance: still one row
        (row,) = await one.due.pending(kind=RETENTION_PURGE)
        assert row.work.key == "retention_purge:2026-11-30" and row.work.due_at == datetime(2026, 11, 30, tzinfo=timezone.utc)
        assert one.schedule.due(clock()) == other.schedule.due(clock()) == [row.id]  # both wake up for it
        await asyncio.gather(one.keeper.fire(row.id), other.keeper.fire(row.id))
        assert [r.session_ids for r in told] == [[old.id]]  # one instance purged, the other found it done
        assert (await one.due.get(row.id)).outcome == FIRED
        assert await one.store.session(old.id) is None and await one.store.session(recent.id) is not None
        await purges[1].plan()  # the same day again: nothing to do
        assert await one.due.pending(kind=RETENTION_PURGE) == []
        clock.advance(days=3)  # three days on, the recent session is past the limit too
        await purges[1].plan()
        (tomorrow,) = await other.due.pending(kind=RETENTION_PURGE)
        assert tomorrow.work.key == "retention_purge:2026-12-03"
        await other.keeper.fire(tomorrow.id)
        assert [r.session_ids for r in told] == [[old.id], [recent.id]]


async def test_a_purge_that_fails_leaves_its_row_pending_to_run_again(make_settings, monkeypatch):
    settings = make_settings(privacy={"retention_days": 365})
    async with Harness(settings, Clock(NOW)) as harness:
        await store_session(harness.store, "old", NOW - timedelta(days=400), NOW - timedelta(days=399))
        purge = DailyPurge(harness.keeper)
        await purge.plan()
        (row,) = await harness.due.pending(kind=RETENTION_PURGE)
        real_apply = retention.apply

        async def fail_once(conn, clauses):  # after the row was claimed, in the same transaction
            monkeypatch.setattr(retention, "apply", real_apply)
            raise OSError("disk gone")

        monkeypatch.setattr(retention, "apply", fail_once)
        with pytest.raises(OSError):
            await harness.keeper.fire(row.id)
        assert (await harness.due.get(row.id)).pending and (await row_counts(harness.engine))["sessions"] == 1
        await harness.keeper.fire(row.id)
        assert not (await harness.due.get(row.id)).pending
        assert (await row_counts(harness.engine)).get("sessions", 0) == 0


async def test_the_service_purges_at_start_what_is_past_the_limit(aiohttp_client, make_settings, sqlite_url):
    from bot.storage.store import create_engine

    engine = create_engine(sqlite_url)
    store = store_with_deliveries(engine)
    await store.upgrade()
    old = await store_session(store, "old", NOW - timedelta(days=40), NOW - timedelta(days=39))
    kept = await store_session(store, "kept", NOW - timedelta(days=20), NOW - timedelta(days=19))
    await store.close()
    await engine.dispose()
    client = await aiohttp_client(create_app(make_settings(privacy={"retention_days": 30}), Clock(NOW)))
    app = client.app
    for _ in range(200):  # the day's row is due at once: the scheduler runs it just after start
        if await app[keys.STORE].session(old.id) is None:
            break
        await asyncio.sleep(0.02)
    assert await app[keys.STORE].session(old.id) is None and await app[keys.STORE].session(kept.id) is not None
