"""A store opened for one command: its engine, its keys from `[privacy]`, the schema migrated or checked, closed after."""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from bot.core.settings import Settings

from .at_rest import AtRest
from .schema_revision import RUN_MIGRATE, Migration, SchemaProblem
from .store import Store, create_engine, database_file


@asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[Store]:
    engine = create_engine(settings.storage.url)
    store = Store(engine, AtRest.from_settings(settings.privacy))
    try:
        yield store
    finally:
        await store.close()
        await engine.dispose()


@asynccontextmanager
async def opened_store(settings: Settings, read_only: bool = False) -> AsyncIterator[Store]:
    """Yield the settings' store, migrated (and its keys checked against the database); close it and its engine after.

    `read_only`, for the commands that only read: the database must be at this code's revision already, and
    nothing is created or migrated (a SQLite file is not even made); else SchemaProblem says to run `companion migrate`.
    """
    path = database_file(settings.storage.url)
    if read_only and path and not path.exists():
        raise SchemaProblem(f"there is no database at {path}: {RUN_MIGRATE}")
    async with _store(settings) as store:
        await (store.check() if read_only else store.upgrade())
        yield store


async def migrated(settings: Settings) -> Migration:
    """Create the settings' database or bring it to this code's revision (`companion migrate`); say from which to which."""
    async with _store(settings) as store:
        return await store.upgrade()
