"""The storage tests' store (on SQLite and on PostgreSQL, writing a dashboard delivery with each notice as the service does), and a count of trips to SQLite's thread."""
from __future__ import annotations

import aiosqlite
import pytest

from bot.storage.store import create_engine
from tests.fakes.records import store_with_deliveries


@pytest.fixture
async def store(storage_url):
    engine = create_engine(storage_url)
    store = store_with_deliveries(engine)
    await store.upgrade()
    yield store
    await store.close()
    await engine.dispose()


@pytest.fixture
def trips(monkeypatch):
    """Count the functions handed to aiosqlite's connection threads."""
    count = [0]
    execute = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):
        count[0] += 1
        return await execute(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return count
