"""The storage tests' store (on SQLite and on PostgreSQL, writing a dashboard delivery with each notice as the service does)."""
from __future__ import annotations

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
