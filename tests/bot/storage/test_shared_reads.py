"""Reads that share one connection (bot/storage/shared_reads.py): one taken from the pool for a run of them, in its task alone."""
from __future__ import annotations

import asyncio

from sqlalchemy import event, text

from bot.storage.shared_reads import reading, shared_reads
from bot.storage.store import create_engine


async def one(engine) -> int:
    async with reading(engine) as conn:
        return (await conn.execute(text("SELECT 1"))).scalar_one()


async def test_the_reads_within_share_one_connection_and_a_task_started_within_takes_its_own(storage_url):
    engine = create_engine(storage_url)
    taken: list[object] = []
    event.listen(engine.sync_engine, "checkout", lambda dbapi, record, proxy: taken.append(record))
    try:
        await one(engine)
        await one(engine)
        assert len(taken) == 2
        taken.clear()
        async with shared_reads(engine):
            assert [await one(engine), await one(engine), await one(engine)] == [1, 1, 1]
            assert len(taken) == 1
            async with shared_reads(engine):  # already sharing: the same one
                await one(engine)
            assert len(taken) == 1
            assert await asyncio.create_task(one(engine)) == 1  # a task of its own: its own connection
            assert len(taken) == 2
        other, taken_there = create_engine(storage_url), []
        event.listen(other.sync_engine, "checkout", lambda dbapi, record, proxy: taken_there.append(record))
        try:
            async with shared_reads(engine):
                await one(other)  # another engine's reads are not this one's
            assert len(taken) == 3 and len(taken_there) == 1
        finally:
            await other.dispose()
    finally:
        await engine.dispose()
