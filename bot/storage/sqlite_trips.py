"""Run each SQLite statement in one trip to aiosqlite's thread (SQLAlchemy's adapter makes four); skip empty rollbacks and commits.

Every trip is a hand-over to the connection's thread and a wake-up of the event loop: SQLAlchemy's
aiosqlite adapter opens a cursor, executes, fetches and closes the cursor in four of them, and rolls
back every connection it returns to the pool, in a transaction or not. Here the statement runs,
its rows are fetched and its cursor closed in one function on the thread, which also notes whether
a transaction is open: a connection with none is returned, or committed, without a trip.
"""
from __future__ import annotations

import collections
import sqlite3
from typing import Any, Callable, TypeVar

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    AsyncAdapt_aiosqlite_ss_cursor,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util.concurrency import await_

Result = TypeVar("Result")


class _Outcome:
    """What a statement left behind, read on the thread: a cursor's attributes, its rows, and the transaction's."""

    __slots__ = ("description", "rowcount", "lastrowid", "arraysize", "rows", "in_transaction")

    def __init__(self) -> None:
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1
        self.rows: list[Any] = []
        self.in_transaction = True  # not known yet: assume one, so a rollback is never skipped wrongly

    def close(self) -> None:
        """Nothing to close: the cursor was closed on the thread."""


def _run(connection: Any, operation: Any, parameters: Any, many: bool) -> _Outcome:
    """On the connection's thread: execute, fetch everything, close the cursor."""
    sqlite = connection._conn
    cursor = sqlite.cursor()
    outcome = _Outcome()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        outcome.description = cursor.description
        if outcome.description:
            outcome.rows = cursor.fetchall()
        outcome.rowcount, outcome.lastrowid = cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()
        outcome.in_transaction = sqlite.in_transaction
    return outcome


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statement is one trip to the thread; its rows are buffered, as the adapter's are."""

    __slots__ = ()
    _awaitable_cursor_close = False

    def _make_new_cursor(self, connection: Any) -> Any:
        return _Outcome()

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._trip(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._trip(operation, seq_of_parameters, True)

    async def _trip(self, operation: Any, parameters: Any, many: bool) -> None:
        adapted = self._adapt_connection
        assert isinstance(adapted, OneTripConnection)
        async with adapted._execute_mutex:
            try:
                outcome = await self._connection._execute(_run, self._connection, operation, parameters, many)
            except BaseException:
                adapted.in_transaction = True  # unknown after a failure: the next rollback makes its trip
                raise
        adapted.in_transaction = outcome.in_transaction
        self._cursor = outcome
        self._rows = collections.deque(outcome.rows)


async def on_thread(conn: AsyncConnection, work: Callable[[sqlite3.Connection], Result], commit: bool = False) -> Result:
    """Run `work` with the driver's own connection in one trip to its thread, inside `conn`'s transaction (if one is open);
    with `commit`, commit that transaction in the same trip (the connection's own commit then makes none)."""
    adapted = (await conn.get_raw_connection()).dbapi_connection
    assert isinstance(adapted, OneTripConnection)
    driver = adapted._connection

    def run(sqlite: sqlite3.Connection) -> tuple[Result, bool]:
        result = work(sqlite)
        if commit:
            sqlite.commit()
        return result, sqlite.in_transaction

    async with adapted._execute_mutex:
        adapted.in_transaction = True  # unknown while it runs, and after a failure: the next rollback makes its trip
        try:
            result, adapted.in_transaction = await driver._execute(run, driver._conn)
        except sqlite3.Error as err:  # as a statement's: SQLAlchemy's error of its kind (IntegrityError, OperationalError, ...)
            raise DBAPIError.instance(None, None, err, sqlite3.Error, hide_parameters=True) from err
    return result


class StreamingCursor(AsyncAdapt_aiosqlite_ss_cursor):
    """SQLAlchemy's server-side cursor (rows fetched as read), which leaves the transaction's state unknown."""

    __slots__ = ()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        assert isinstance(self._adapt_connection, OneTripConnection)
        self._adapt_connection.in_transaction = True  # the next rollback makes its trip
        return await super()._execute_async(operation, parameters)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """An aiosqlite connection whose cursors make one trip, and whose rollback or commit without a transaction makes none."""

    __slots__ = ("in_transaction",)
    _cursor_cls = OneTripCursor
    _ss_cursor_cls = StreamingCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.in_transaction = True

    def rollback(self) -> None:
        if self.in_transaction:
            super().rollback()
            self.in_transaction = False

    def commit(self) -> None:
        if self.in_transaction:
            super().commit()
            self.in_transaction = False


class OneTripDbapi(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite module, handing out one-trip connections: give it to create_async_engine as `module`."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as SQLAlchemy's adapter does: a forgotten connection must not hold the exit
        return OneTripConnection(self, await_(connection))


def one_trip_module() -> OneTripDbapi:
    """Return the DBAPI module for SQLite engines."""
    import sqlite3

    import aiosqlite

    return OneTripDbapi(aiosqlite, sqlite3)

