"""One trip to aiosqlite's thread per statement (bot/storage/sqlite_trips.py): fewer trips, the same answers and errors."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.storage.sqlite_trips import on_thread
from bot.storage.store import create_engine


@pytest.fixture
async def engine(sqlite_url):
    engine = create_engine(sqlite_url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
    yield engine
    await engine.dispose()


async def test_a_read_is_one_trip_and_its_connection_goes_back_without_one(engine, trips):
    async with engine.connect() as conn:  # pooled already: the table was made on it
        trips[0] = 0
        rows = (await conn.execute(text("SELECT id, v FROM t"))).all()
    assert rows == [] and trips[0] == 1  # SQLAlchemy's adapter: cursor, execute, fetch, close, then a rollback (5)


async def test_a_write_is_one_trip_and_its_commit_another(engine, trips):
    trips[0] = 0
    async with engine.begin() as conn:
        result = await conn.execute(text("INSERT INTO t (v) VALUES ('a'), ('b') RETURNING id, v"))
        assert sorted(tuple(r) for r in result) == [(1, "a"), (2, "b")]
    assert trips[0] == 2
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 2


async def test_many_rows_and_their_count_and_the_last_id(engine):
    async with engine.begin() as conn:
        many = await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": f"v{n}"} for n in range(5)])
        assert many.rowcount == 5
        one = await conn.execute(text("INSERT INTO t (v) VALUES ('last')"))
        assert one.lastrowid == 6
        changed = await conn.execute(text("UPDATE t SET v = v || '!' WHERE id <= 3"))
        assert changed.rowcount == 3


async def test_a_refused_statement_is_the_usual_error_and_its_transaction_is_rolled_back(engine):
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (v) VALUES ('b')"))
            await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))  # not unique: the whole transaction goes
    with pytest.raises(OperationalError):
        async with engine.connect() as conn:
            await conn.execute(text("SELECT nothing FROM nowhere"))
    async with engine.connect() as conn:  # the pool's connections still work
        assert (await conn.execute(text("SELECT v FROM t"))).scalars().all() == ["a"]


async def test_a_transaction_left_open_is_rolled_back_when_its_connection_goes_back(engine):
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO t (v) VALUES ('never committed')"))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0


async def test_rows_streamed_from_a_server_side_cursor_and_a_rollback_after(engine, trips):
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (v) VALUES ('a'), ('b'), ('c')"))
    async with engine.connect() as conn:
        streamed = await conn.stream(text("SELECT v FROM t ORDER BY id"))
        assert [row.v async for row in streamed] == ["a", "b", "c"]
        await conn.execute(text("DELETE FROM t"))
        await conn.rollback()
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 3


async def test_work_on_the_thread_is_one_trip_inside_the_transaction_and_goes_with_its_rollback(engine, trips):
    def insert(values):
        return lambda sqlite: sqlite.executemany("INSERT INTO t (v) VALUES (?)", values).rowcount

    async with engine.connect() as conn:
        trips[0] = 0
        assert await on_thread(conn, insert([("a",), ("b",)])) == 2
        assert trips[0] == 1
    assert trips[0] == 2  # the work opened a transaction: the connection's return rolls it back, in a trip
    with pytest.raises(IntegrityError):  # as a statement's error is
        async with engine.begin() as conn:
            await on_thread(conn, insert([("c",)]))
            await on_thread(conn, insert([("d",), ("d",)]))  # not unique: the whole transaction goes, "c" with it
    async with engine.begin() as conn:
        await on_thread(conn, insert([("e",)]))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT v FROM t"))).scalars().all() == ["e"]


async def test_work_committed_on_the_thread_is_one_trip_and_the_commit_after_makes_none(engine, trips):
    trips[0] = 0
    async with engine.begin() as conn:
        await on_thread(conn, lambda sqlite: sqlite.execute("INSERT INTO t (v) VALUES ('kept')"), commit=True)
    assert trips[0] == 1  # SQLAlchemy's commit (and the connection's return) found no transaction open
    async with engine.begin():
        pass
    assert trips[0] == 1  # nor does an empty transaction's commit
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT v FROM t"))).scalars().all() == ["kept"]
