"""A start on a database at this code's revision needs no Alembic (bot/storage/schema_revision.py at_head): the same head either way."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.storage.schema_revision import at_head, head, shipped_head
from bot.storage.store import Store, create_engine
from tests.conftest import storage_keys

ROOT = Path(__file__).resolve().parents[3]
START = """
import asyncio, sys
from bot.storage.store import Store, create_engine
from tests.conftest import storage_keys

async def start():
    engine = create_engine(sys.argv[1])
    migration = await Store(engine, storage_keys()).upgrade()
    await engine.dispose()
    print(migration.before, migration.after, "alembic" in sys.modules)

asyncio.run(start())
"""


def test_the_head_read_from_the_revision_files_is_alembics():
    assert shipped_head() == head()


async def test_a_database_at_the_head_starts_without_alembic_and_a_new_one_is_migrated(storage_url):
    engine = create_engine(storage_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(at_head) is None  # empty: Alembic makes the schema
        made = await Store(engine, storage_keys()).upgrade()
        assert made.before is None and made.after == head()
        async with engine.connect() as conn:
            assert await conn.run_sync(at_head) == head()
    finally:
        await engine.dispose()
    started = subprocess.run([sys.executable, "-c", START, storage_url], cwd=ROOT, capture_output=True, text=True, check=True)
    assert started.stdout.split() == [head(), head(), "False"]
