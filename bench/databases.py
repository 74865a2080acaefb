"""Give a benchmark an empty PostgreSQL database to fill: the one it names, emptied first."""
from __future__ import annotations

from sqlalchemy import text

from bot.storage.store import create_engine


async def emptied(url: str) -> None:
    """Drop everything in the database's public schema (a benchmark's own database, never one in use)."""
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
