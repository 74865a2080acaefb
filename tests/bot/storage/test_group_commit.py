"""Group commit (bot/storage/group_commit.py): a caller that goes away mid-commit never stops the writer."""
from __future__ import annotations

import asyncio

import pytest

from bot.storage.group_commit import GroupCommit
from bot.storage.store import create_engine


async def test_a_caller_cancelled_during_a_failing_commit_leaves_its_neighbours_answered(sqlite_url):
    engine = create_engine(sqlite_url)
    started = asyncio.Event()

    async def apply(conn, items):
        if items == ["bad"]:  # its retry alone, after the shared commit failed
            started.set()
            await asyncio.sleep(0.2)  # the caller's request times out meanwhile
        if "bad" in items:
            raise ValueError("refused")
        return [f"ok:{item}" for item in items]

    writes = GroupCommit(engine, apply)
    try:
        doomed = asyncio.create_task(writes.submit("bad"))
        neighbour = asyncio.create_task(writes.submit("good"))  # the same batch: it fails, then each is retried alone
        await started.wait()
        doomed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await doomed
        assert await asyncio.wait_for(neighbour, 5) == "ok:good"
    finally:
        await writes.close()
        await engine.dispose()
