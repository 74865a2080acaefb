"""PostgreSQL connections checked alive without a round trip (bot/storage/liveness.py), and reads outside a transaction."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import asyncpg
import psycopg2

from bot.core.events import MeetingRef, MeetingStarted
from bot.storage.session_ids import session_id_for
from bot.storage.shared_reads import shared_reads
from bot.storage.store import create_engine
from tests.conftest import PG_ADMIN_DSN
from tests.fakes.records import store_with_deliveries

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
MEETING = MeetingRef("zoom", "occ-1", "m-1", "host-1")
SESSION = session_id_for("zoom", "occ-1")


def cut_every_connection(database: str) -> None:
    """End every server process of the database, as a PostgreSQL restart does, from outside the event loop."""
    admin = psycopg2.connect(PG_ADMIN_DSN)
    admin.autocommit = True
    cursor = admin.cursor()
    cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
    # Ended asynchronously: a restart is over only once they are all gone.
    for _ in range(500):
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,))
        if cursor.fetchone()[0] == 0:
            break
        time.sleep(0.01)
    admin.close()


def counting(send, sent: list[str]):
    """Return the driver's `send`, noting each query it sends in `sent`."""

    def sending(self, query, *args, **kwargs):
        sent.append(query)
        return send(self, query, *args, **kwargs)

    return sending


async def stored(store, n: int) -> int:
    return await store.record_events("t1", MEETING, [(f"start-{n}", MeetingStarted(meeting=MEETING, at=NOW))], NOW)


async def test_a_read_sends_the_server_its_statement_alone(postgres_url, monkeypatch):
    engine = create_engine(postgres_url)
    store = store_with_deliveries(engine)
    sent: list[str] = []
    # What the driver sends besides our statements (each a prepared one): a transaction's BEGIN and ROLLBACK, a ping's `;`.
    for name in ("execute", "fetchrow"):
        monkeypatch.setattr(asyncpg.Connection, name, counting(getattr(asyncpg.Connection, name), sent))
    try:
        await store.upgrade()
        await stored(store, 1)
        sent.clear()
        assert (await store.session(SESSION)) is not None
        async with shared_reads(engine):  # as a judging reads: the session, then its events
            await store.session(SESSION)
            assert len(await store.events_after(MEETING, 0)) == 1
        # No pre-ping (BEGIN, `;`, ROLLBACK) and no transaction of its own (BEGIN, ROLLBACK) around each.
        assert sent == []
    finally:
        await store.close()
        await engine.dispose()


async def test_the_store_reads_and_writes_again_once_postgresql_cut_its_connections(postgres_url):
    engine = create_engine(postgres_url)
    store = store_with_deliveries(engine)
    try:
        await store.upgrade()
        assert await stored(store, 1) == 1
        async with shared_reads(engine):  # two connections resting in the pool
            await store.session(SESSION)
            assert await store.notice_ids("t1", SESSION) == {}
        cut_every_connection(postgres_url.rsplit("/", 1)[1])
        assert (await store.session(SESSION)) is not None
        assert await stored(store, 2) == 1
        cut_every_connection(postgres_url.rsplit("/", 1)[1])
        assert await stored(store, 3) == 1
        assert len(await store.events_after(MEETING, 0)) == 3
    finally:
        await store.close()
        await engine.dispose()
