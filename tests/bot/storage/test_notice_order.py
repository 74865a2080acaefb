"""Notices on several instances (bot/storage/notices.py): their ids are notified at commit, and they commit in id order."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from bot.core.due_work import NoticeSpec
from bot.storage.cluster_link import ClusterLink
from bot.storage.notices import NOTICES_CHANNEL
from bot.storage.store import create_engine
from tests.bot.storage.conftest import store_with_deliveries

NOW = datetime(2025, 3, 4, 15, 0, tzinfo=timezone.utc)


def raised(n: int) -> tuple[NoticeSpec, datetime]:
    return NoticeSpec("t1", "s-a", "third_party_joined", f"s-a:{n}", NOW, "Another person joined the meeting."), NOW


async def test_notices_are_notified_by_id_at_commit_and_one_inserting_waits_for_the_other_to_commit(postgres_url):
    engine = create_engine(postgres_url)
    store = store_with_deliveries(engine)
    await store.upgrade()
    heard: list[str] = []
    link = ClusterLink(postgres_url, 1.0)
    link.listen(NOTICES_CHANNEL, heard.append)
    link.start()
    try:
        async with asyncio.timeout(10):
            while not link.connected:
                await asyncio.sleep(0.02)
        async with engine.begin() as first:
            (early,) = await store.insert_notices(first, [raised(1)])
            later = asyncio.create_task(store.raise_notice("t1", "s-a", "third_party_joined", "s-a:2", NOW, "Another person joined the meeting.", NOW))  # another instance raising one meanwhile
            await asyncio.sleep(0.5)
            assert not later.done()  # it waits for this transaction: it would otherwise commit a higher id first
            assert heard == []
        row = await asyncio.wait_for(later, 10)
        assert early is not None and row is not None and row.id > early.id
        async with asyncio.timeout(10):
            while len(heard) < 2:
                await asyncio.sleep(0.02)
        assert heard == [str(early.id), str(row.id)]
        await store.raise_notice("t1", "s-a", "third_party_joined", "s-a:2", NOW, "Another person joined the meeting.", NOW)  # raised before: no new id, nothing notified
        await asyncio.sleep(0.3)
        assert len(heard) == 2
    finally:
        await link.stop()
        await store.close()
        await engine.dispose()
