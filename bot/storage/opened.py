"""A store opened for one command: its engine, its keys from `[privacy]`, the schema brought up to date, closed after."""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from bot.core.settings import Settings

from .at_rest import AtRest
from .store import Store, create_engine


@asynccontextmanager
async def opened_store(settings: Settings) -> AsyncIterator[Store]:
    """Yield the settings' store, upgraded (and its keys checked against the database); close it and its engine after."""
    engine = create_engine(settings.storage.url)
    store = Store(engine, AtRest.from_settings(settings.privacy))
    try:
        await store.upgrade()
        yield store
    finally:
        await store.close()
        await engine.dispose()
