"""An instance's own PostgreSQL link (bot/storage/cluster_link.py): its advisory lock is exclusive and goes with it, its
notifications arrive at commit only, and it is opened again, listening, once the server cut it."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import psycopg2
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.cluster_link import MAX_PAYLOAD, ClusterLink, lock_key, notify
from bot.storage.store import create_engine
from tests.conftest import PG_ADMIN_DSN

KEY = lock_key("session-companion test lock")


def backends_of(database: str) -> list[int]:
    admin = psycopg2.connect(PG_ADMIN_DSN)
    admin.autocommit = True
    cursor = admin.cursor()
    cursor.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = %s)", (database,))
    pids = [row[0] for row in cursor.fetchall()]
    admin.close()
    return pids


def terminate(pids: list[int]) -> None:
    admin = psycopg2.connect(PG_ADMIN_DSN)
    admin.autocommit = True
    for pid in pids:
        admin.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
    admin.close()


async def until(condition, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not within the time")


def linked_log(link: ClusterLink) -> list[bool]:
    told: list[bool] = []

    async def linked(up: bool) -> None:
        told.append(up)

    link.when_linked(linked)
    return told


@dataclass
class Listening:
    """A started link listening on `companion_test` (what it heard, in order), and an engine to notify through."""

    link: ClusterLink
    heard: list[str]
    engine: AsyncEngine


@pytest.fixture
async def listening(postgres_url):
    heard: list[str] = []
    link = ClusterLink(postgres_url, 0.2)
    link.listen("companion_test", heard.append)
    link.start()
    engine = create_engine(postgres_url)
    try:
        await until(lambda: link.connected)
        yield Listening(link, heard, engine)
    finally:
        await link.stop()
        await engine.dispose()


def test_a_lock_key_is_a_signed_64_bit_number_the_same_everywhere():
    assert lock_key("leader") == lock_key("leader") != lock_key("leader ")
    assert -(2**63) <= lock_key("leader") < 2**63


async def test_one_link_at_a_time_holds_the_lock_and_another_takes_it_once_the_holder_is_gone(postgres_url):
    first, second = ClusterLink(postgres_url, 0.2), ClusterLink(postgres_url, 0.2)
    told = linked_log(first)
    first.start()
    second.start()
    try:
        await until(lambda: first.connected and second.connected)
        assert await first.try_lock(KEY) is True
        assert await first.try_lock(KEY) is True  # held already: still its own
        assert await second.try_lock(KEY) is False
        # The holder's server process ends (as when its instance is killed): the lock is free at once, and
        # the holder hears that its link (and so its lock) is lost.
        terminate(backends_of(postgres_url.rsplit("/", 1)[1]))
        await until(lambda: False in told)
        assert await second.try_lock(KEY) is True
        await until(lambda: told[-1] is True and first.connected)  # opened again, without the lock
        assert await first.try_lock(KEY) is False
    finally:
        await first.stop()
        await second.stop()


async def test_a_notification_arrives_at_commit_and_never_from_a_rollback(listening):
    async with listening.engine.connect() as connection:
        async with connection.begin() as transaction:
            await notify(connection, "companion_test", ["1", "2"])
            await asyncio.sleep(0.2)
            assert listening.heard == []  # not before the commit
            await transaction.rollback()
        async with connection.begin():
            await notify(connection, "companion_test", ["3", "4"])
    await until(lambda: listening.heard == ["3,4"])
    await asyncio.sleep(0.2)
    assert listening.heard == ["3,4"]


async def test_many_items_are_notified_in_parts_each_short_enough_for_postgresql(listening):
    items = [str(10**9 + n) for n in range(3000)]  # 33,000 bytes joined
    async with listening.engine.begin() as connection:
        await notify(connection, "companion_test", items)
    await until(lambda: sum(len(p.split(",")) for p in listening.heard) == len(items))
    assert len(listening.heard) > 1 and all(len(p) <= MAX_PAYLOAD for p in listening.heard)
    assert [i for p in listening.heard for i in p.split(",")] == items


async def test_the_link_listens_again_once_the_server_cut_it(listening, postgres_url):
    told = linked_log(listening.link)  # from now: it is linked already
    admin = psycopg2.connect(PG_ADMIN_DSN)
    admin.autocommit = True
    admin.cursor().execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (postgres_url.rsplit("/", 1)[1],),
    )
    admin.close()
    await until(lambda: told == [False, True])
    async with listening.engine.begin() as connection:
        await notify(connection, "companion_test", ["after"])
    await until(lambda: listening.heard == ["after"])


async def test_notifying_on_sqlite_does_nothing(sqlite_url):
    engine = create_engine(sqlite_url)
    try:
        async with engine.begin() as connection:
            await notify(connection, "companion_test", ["1"])
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()


async def test_a_link_to_no_server_keeps_trying_and_holds_nothing():
    link = ClusterLink("postgresql+asyncpg://postgres@127.0.0.1:1/none", 0.2)
    link.start()
    try:
        await asyncio.sleep(0.5)
        assert not link.connected
        assert await link.try_lock(KEY) is False
    finally:
        await link.stop()


async def test_the_links_open_are_the_instances_alive(postgres_url):
    first, second = ClusterLink(postgres_url, 0.2, "host-1-aa"), ClusterLink(postgres_url, 0.2, "host-2-bb")
    first.start()
    second.start()
    try:
        await until(lambda: first.connected and second.connected)
        assert await first.members() == {"host-1-aa", "host-2-bb"}
        await second.stop()  # as its instance ending would
        assert await first.members() == {"host-1-aa"}
    finally:
        await first.stop()
        await second.stop()
    assert await first.members() is None  # not linked: it cannot tell
