"""Insert a batch of deliveries' session and event rows with the drivers' own statements, made once, not per batch.

SQLAlchemy's insert renders, binds and compiles a multi-row statement for each batch and size. Here, on
SQLite, a batch's rows (a multi-row insert a table, its text kept a size) and its commit are one trip
to the connection's thread; on PostgreSQL one statement over arrays (unnest), the same text every batch.
The rows it returns are the new ones, with their ids. Either way nothing is acknowledged before its commit.
"""
from __future__ import annotations

import functools
import sqlite3
from typing import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from .sqlite_trips import on_thread

SessionValues = tuple[str, str, str, str, str, str, str]  # id, platform, occurrence_id, meeting_id, host_id, therapist_id, created_at
EventValues = tuple[str, str, str, str, str, str, str]  # platform, occurrence_id, key, at, kind, data, received_at

_SESSION_COLUMNS = "id, platform, occurrence_id, meeting_id, host_id, therapist_id, created_at"
_EVENT_COLUMNS = "platform, occurrence_id, key, at, kind, data, received_at"
# A session first seen without its meeting id gets it later; its id is its occurrence's (session_ids.py), so a
# conflict on either unique key is one on the id.
_FILL_MEETING_ID = " ON CONFLICT (id) DO UPDATE SET meeting_id = excluded.meeting_id WHERE sessions.meeting_id = '' AND excluded.meeting_id <> ''"

_SQLITE_SESSION = f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)" + _FILL_MEETING_ID
_SQLITE_ROWS = 1000  # rows a statement at most: 7,000 variables, under SQLite's limit (32,766)
# One statement, one round trip: the sessions' insert runs (once) as a data-modifying WITH beside the events'.
_POSTGRES_ROWS = (
    f"WITH sessions_written AS (INSERT INTO sessions ({_SESSION_COLUMNS})"
    " SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[], $7::varchar[])"
    f"{_FILL_MEETING_ID}) INSERT INTO events ({_EVENT_COLUMNS})"
    " SELECT * FROM unnest($8::varchar[], $9::varchar[], $10::varchar[], $11::varchar[], $12::varchar[], $13::text[], $14::varchar[])"
    " ON CONFLICT DO NOTHING RETURNING platform, key, id"
)


async def insert_and_commit(conn: AsyncConnection, sessions: Sequence[SessionValues], events: Sequence[EventValues]) -> list[int | None]:
    """Insert the sessions (a missing meeting id filled in) and the events (a key already stored skipped), in order, and
    commit `conn`'s transaction (on PostgreSQL one statement: under autocommit, its own); return each event's new row's
    id, None for a row not new (an event twice in the batch is new once, the first)."""
    if conn.dialect.name == "sqlite":
        return await on_thread(conn, lambda sqlite: _insert_on_thread(sqlite, sessions, events), commit=True)
    flags = await _insert_over_arrays(conn, sessions, events)
    await conn.commit()
    return flags


async def _insert_over_arrays(conn: AsyncConnection, sessions: Sequence[SessionValues], events: Sequence[EventValues]) -> list[int | None]:
    columns = [list(column) for column in zip(*sessions, strict=True)] or [[]] * 7
    columns += [list(column) for column in zip(*events, strict=True)] or [[]] * 7
    return _firsts(events, {(row.platform, row.key): row.id for row in await conn.exec_driver_sql(_POSTGRES_ROWS, tuple(columns))})


def _insert_on_thread(sqlite: sqlite3.Connection, sessions: Sequence[SessionValues], events: Sequence[EventValues]) -> list[int | None]:
    # One statement for many rows, not one a row: it inserts them all in its first step (what it returns is read from memory after).
    cursor = sqlite.cursor()
    try:
        cursor.executemany(_SQLITE_SESSION, sessions)
        new: dict[tuple[str, str], int] = {}
        for first in range(0, len(events), _SQLITE_ROWS):
            rows = events[first:first + _SQLITE_ROWS]
            new.update(((platform, key), row_id) for platform, key, row_id in cursor.execute(
                _sqlite_events(len(rows)), [value for row in rows for value in row]
            ).fetchall())
        return _firsts(events, new)
    finally:
        cursor.close()


@functools.lru_cache(maxsize=64)
def _sqlite_events(rows: int) -> str:
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * rows)
    return f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES {values} ON CONFLICT DO NOTHING RETURNING platform, key, id"


def _firsts(events: Sequence[EventValues], new: dict[tuple[str, str], int]) -> list[int | None]:
    """Return each event's new row's id (None: not new): a new row's, once, for its first event in the batch."""
    return [new.pop((platform, key), None) for platform, _, key, *_ in events]
