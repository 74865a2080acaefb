"""Keep sessions and their events in SQLite or PostgreSQL (SQLAlchemy, async); notices and notes beside them."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Container, Sequence

from sqlalchemy import and_, bindparam, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.core.events import MeetingEvent, MeetingRef
from bot.core.timefmt import to_stamp

from . import schema
from .at_rest import AtRest
from .event_rows import EventValues, SessionValues, insert_and_commit
from .files import private_file
from .group_commit import GroupCommit
from .key_checks import check_keys
from .liveness import check_on_checkout
from .notices import NoticeRecords
from .retention import writing
from .schema_revision import Migration, at_head, migrate, require_current
from .session_ids import session_id_for
from .shared_reads import reading
from .sqlite_trips import one_trip_module
from .stream_leases import Lease, LeaseLost, holds
from .upgrades import PRIVATE_AT_REST, REWRITTEN
from .written_events import WrittenEvents

_LOGGER = logging.getLogger(__name__)

OLDER_TRANSACTIONS_WAIT_SECONDS = 30  # an upgrade's compaction waits this long at most for older transactions to end
SCHEMA_LOCK_KEY = 0x53435F5348  # "SC_SH": one instance upgrades the schema at a time


# The statements each judging runs, built once with bind parameters: SQLAlchemy then finds each compiled form by a
# cache key made once, instead of building the statement, coercing its values and making its key at every call.
_SESSION = select(schema.sessions).where(schema.sessions.c.id == bindparam("session_id"))
_THERAPISTS_SESSION = _SESSION.where(schema.sessions.c.therapist_id == bindparam("therapist_id"))
_EVENTS_AFTER = (
    select(schema.events.c.id, schema.events.c.key, schema.events.c.data, schema.events.c.received_at)
    .where(schema.events.c.platform == bindparam("platform"), schema.events.c.occurrence_id == bindparam("occurrence_id"))
    .where(schema.events.c.id > bindparam("after_id"))
    .order_by(schema.events.c.id)
)
_SESSION_AND_EVENTS_AFTER = (  # a judging's first read: the session's row, beside each of its events after `after_id` (if any)
    select(*schema.sessions.c, schema.events.c.id.label("event_id"), schema.events.c.key, schema.events.c.data, schema.events.c.received_at)
    .select_from(
        schema.sessions.outerjoin(
            schema.events,
            and_(
                schema.events.c.platform == schema.sessions.c.platform,
                schema.events.c.occurrence_id == schema.sessions.c.occurrence_id,
                schema.events.c.id > bindparam("after_id"),
            ),
        )
    )
    .where(schema.sessions.c.id == bindparam("session_id"))
    .order_by(schema.events.c.id)
)


@dataclass(frozen=True)
class SessionRow:
    id: str
    platform: str
    occurrence_id: str
    meeting_id: str
    host_id: str
    therapist_id: str
    created_at: str

    @property
    def meeting(self) -> MeetingRef:
        return MeetingRef(self.platform, self.occurrence_id, self.meeting_id, self.host_id)


@dataclass(frozen=True)
class StoredEvent:
    """An event's row: its id (in the order rows were written), key and arrival stamp, and the event (None: not read)."""

    id: int
    key: str
    received_at: str
    event: MeetingEvent | None


def _use_wal(cursor: Any, attempts: int = 100) -> None:
    """Switch the database file to WAL (it stays so): readers then never block a writer.

    The switch needs the file to itself and SQLite does not wait for that (no busy timeout), so a
    process starting while another writes tries again for a few seconds.
    """
    for _ in range(attempts):
        cursor.execute("PRAGMA journal_mode")
        if cursor.fetchone()[0] == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as err:  # the driver's OperationalError: 'database is locked'
            if "locked" not in str(err):
                raise
            time.sleep(0.05)
    raise RuntimeError("could not switch the SQLite database to WAL: it stayed locked")


def _readable(at_rest: AtRest, meeting: MeetingRef, row_id: int, key: str, data: str) -> MeetingEvent | None:
    """Return a stored event, or None (logged by key) for a row that cannot be read: it must not break the session."""
    try:
        return at_rest.event_of(meeting, row_id, data)
    except (ValueError, TypeError, KeyError, OverflowError):
        _LOGGER.warning("stored event %s of %s meeting occurrence cannot be read: left out", key, meeting.platform)
        return None


def database_file(url: str) -> Path | None:
    """Return the file of a SQLite database URL (None: another database, or one in memory or named by a URI)."""
    database = make_url(url).database if url.startswith("sqlite") else None
    if database and database != ":memory:" and not database.startswith("file:"):
        return Path(database)
    return None


def create_engine(url: str) -> AsyncEngine:
    """Return an async engine; SQLite gets WAL and a busy timeout so readers never block ingest."""
    # hide_parameters: an error message must never carry a participant's name from a statement.
    # aiosqlite logs every statement with its values at DEBUG (names, note text): WARNING unless the
    # operator set its level ([logging] library_levels, bot/config/log_levels.py).
    driver_log = logging.getLogger("aiosqlite")
    if driver_log.level == logging.NOTSET:
        driver_log.setLevel(logging.WARNING)
    if database := database_file(url):
        private_file(database)  # before SQLite makes it: its -wal and -shm files take the database's mode
    # aiosqlite: one trip to the connection's thread per statement (bot/storage/sqlite_trips.py).
    driver = {"module": one_trip_module()} if make_url(url).get_driver_name() == "aiosqlite" else {}
    engine = create_async_engine(url, hide_parameters=True, **driver)
    if engine.dialect.name == "postgresql":
        check_on_checkout(engine)  # instead of the pre-ping's three round trips per connection taken

    @sa_event.listens_for(engine.sync_engine, "handle_error")
    def _withhold_values(context: Any) -> None:
        # hide_parameters hides the statement's values, but asyncpg quotes a refused value in its own
        # error text (a note, a name): keep only the kinds of error in anything that may be logged.
        kind = type(context.original_exception).__name__
        context.original_exception.args = (f"{kind} (the driver's detail is withheld: it may quote a value)",)
        if context.sqlalchemy_exception is not None:
            context.sqlalchemy_exception.args = (f"({kind}) the database refused the statement",)
    if engine.dialect.name == "sqlite":

        @sa_event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA busy_timeout=5000")
            _use_wal(cursor)
            cursor.execute("PRAGMA synchronous=FULL")
            # What is deleted or rewritten (a note sealed, a name dropped) is overwritten, not left in free pages.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

    return engine


class Store(NoticeRecords):
    """The service's database: every write is committed before the caller acknowledges anything.

    What it keeps of people and of the therapist's words goes through `at_rest` (bot/storage/at_rest.py).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        at_rest: AtRest,
        channels_for: Callable[[str, str], Sequence[str]] = lambda _therapist_id, _kind: (),
    ) -> None:
        self.engine = engine
        self.at_rest = at_rest
        self._channels_for = channels_for  # where a therapist's notices of a kind go: a delivery row for each
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        # PostgreSQL writes a batch of deliveries in one statement, committed as it runs (bot/storage/event_rows.py).
        self._writes: GroupCommit[Any] = GroupCommit(engine, self._write_events, autocommit=engine.dialect.name == "postgresql")
        self._notice_writes = GroupCommit(engine, self._write_notices)
        self._known_sessions: set[str] = set()
        self._written = WrittenEvents()  # the events this instance wrote, so that judging need not decode them again

    async def upgrade(self) -> Migration:
        """Create the schema or bring it to this code's revision, check the keys against it; say from which revision to which.

        Raise KeyProblem (nothing upgraded) if the keys are not the ones the database was written with, and
        SchemaProblem (nothing touched) if the database is newer than the code.
        """
        async with self.engine.begin() as conn:  # the usual start: already at this code's revision, Alembic not loaded
            if current := await conn.run_sync(at_head):
                await conn.run_sync(check_keys, self.at_rest)
                return Migration(current, current)
        async with self.engine.connect() as conn:
            # Several processes may start at once: the first to lock upgrades, the others wait.
            if self.engine.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            else:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            migration = await conn.run_sync(migrate, self.at_rest)
            await conn.run_sync(check_keys, self.at_rest)
            await conn.commit()
        if migration.before != migration.after:
            _LOGGER.info("database schema migrated %s", migration)
        if 0 < migration.version_before < PRIVATE_AT_REST:
            await self._compact(REWRITTEN)
        return migration

    async def check(self) -> None:
        """Check that the schema is at this code's revision and the keys are the database's, changing nothing.

        Raise SchemaProblem (run `companion migrate`) or KeyProblem.
        """
        async with self.engine.connect() as conn:  # closed without a commit: a reader writes nothing
            await conn.run_sync(require_current)
            await conn.run_sync(check_keys, self.at_rest)

    async def _compact(self, tables: Sequence[str]) -> None:
        """Rewrite tables whose rows an upgrade changed, so that no old version of a row stays in the database's files.

        PostgreSQL keeps an updated row's old version until a vacuum; SQLite overwrites it as it goes
        (secure_delete, set on every connection).
        """
        if self.engine.dialect.name != "postgresql":
            return
        async with self.engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")  # VACUUM runs outside a transaction
            # VACUUM FULL keeps a row's old version while a transaction older than its change could still read it:
            # wait (a while) for the transactions open on the server when the change was committed to end first.
            began = int((await autocommit.exec_driver_sql("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")).scalar_one()) % 2**32
            for _ in range(int(OLDER_TRANSACTIONS_WAIT_SECONDS / 0.1)):
                older = await autocommit.exec_driver_sql(  # `began`: an integer the server gave
                    "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND"
                    f" (age(backend_xmin) > age('{began}'::xid) OR age(backend_xid) > age('{began}'::xid))"
                )
                if not older.scalar_one():
                    break
                await asyncio.sleep(0.1)
            else:
                _LOGGER.warning("transactions older than the upgrade are still open: old row versions may stay until the next vacuum")
            await autocommit.exec_driver_sql("VACUUM FULL " + ", ".join(tables))

    async def record_events(
        self, therapist_id: str | None, meeting: MeetingRef, keyed: Sequence[tuple[str, MeetingEvent]], now: datetime
    ) -> int:
        """Store a delivery's events (and its session, if a therapist owns it); return how many were new."""
        inserted = await self._writes.submit((therapist_id, meeting, keyed, now))
        if therapist_id is not None and meeting.meeting_id:
            # Committed with nothing left to fill in: later deliveries can skip the session row.
            self._known_sessions.add(session_id_for(meeting.platform, meeting.occurrence_id))
        return inserted

    async def record_held_events(
        self, therapist_id: str | None, meeting: MeetingRef, keyed: Sequence[tuple[str, MeetingEvent]], now: datetime, lease: Lease
    ) -> int:
        """Store a stream's events as `record_events` does, only while its writer's `lease` holds (checked in the same
        transaction); raise LeaseLost, storing nothing, once another instance took the stream."""
        async with writing(self.engine) as conn:
            if not await holds(conn, lease):
                raise LeaseLost(lease.session_id)
            return (await self._write_events(conn, [(therapist_id, meeting, keyed, now)]))[0]

    async def close(self) -> None:
        """Finish with the database: stop the writers."""
        await self._writes.close()
        await self._notice_writes.close()

    async def _write_events(
        self, conn: AsyncConnection, batch: list[tuple[str | None, MeetingRef, Sequence[tuple[str, MeetingEvent]], datetime]]
    ) -> list[int]:
        """Write a batch of deliveries and commit it (bot/storage/event_rows.py); return each delivery's new events."""
        sessions: dict[str, SessionValues] = {}
        rows: list[EventValues] = []
        rebuilt: list[MeetingEvent | None] = []
        for therapist_id, meeting, keyed, now in batch:
            stamp = to_stamp(now)
            session_id = session_id_for(meeting.platform, meeting.occurrence_id)
            if therapist_id is not None and session_id not in self._known_sessions and session_id not in sessions:
                sessions[session_id] = (
                    session_id, meeting.platform, meeting.occurrence_id, meeting.meeting_id, meeting.host_id, therapist_id, stamp
                )
            for key, event in keyed:
                data, read = self.at_rest.kept(event)
                rows.append((meeting.platform, meeting.occurrence_id, self.at_rest.event_key(key, event), to_stamp(event.at), event.kind, data, stamp))
                rebuilt.append(read)
        row_ids = await insert_and_commit(conn, list(sessions.values()), rows)
        for row_id, row, read in zip(row_ids, rows, rebuilt, strict=True):
            if row_id is not None and read is not None:
                self._written.remember(row_id, row[5], read)
        new = iter(row_ids)
        return [sum(next(new) is not None for _ in keyed) for _, _, keyed, _ in batch]  # in order: each delivery's rows, one after the other

    async def session_events(self, meeting: MeetingRef) -> list[MeetingEvent]:
        """Return a meeting occurrence's events in the order of their own time."""
        t = schema.events
        query = (
            select(t.c.id, t.c.key, t.c.data)
            .where(t.c.platform == meeting.platform)
            .where(t.c.occurrence_id == meeting.occurrence_id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        loaded = [(event, row.key) for row in rows if (event := _readable(self.at_rest, meeting, row.id, row.key, row.data)) is not None]
        loaded.sort(key=lambda pair: (pair[0].at, pair[0].rank, pair[1]))
        return [event for event, _ in loaded]

    async def events_after(self, meeting: MeetingRef, after_id: int, known: Container[str] = ()) -> list[StoredEvent]:
        """Return a meeting occurrence's events stored in rows after `after_id`, in row order (the occurrence's index finds them).

        A row keyed in `known` (the caller holds it) is not read again, nor one that cannot be read
        (logged by key, as `session_events` does): both come with no event.
        """
        values = {"platform": meeting.platform, "occurrence_id": meeting.occurrence_id, "after_id": after_id}
        async with reading(self.engine) as conn:
            rows = (await conn.execute(_EVENTS_AFTER, values)).all()
        return [self.stored_event(meeting, known, row.id, row.key, row.data, row.received_at) for row in rows]

    async def session_and_events_after(
        self, session_id: str, after_id: int, known: Container[str] = ()
    ) -> tuple[SessionRow | None, list[StoredEvent]]:
        """Return a session (None: not stored) and, read in the same statement, its occurrence's events after `after_id`
        (as `events_after` returns them): one round trip for a judging's first read."""
        async with reading(self.engine) as conn:
            rows = (await conn.execute(_SESSION_AND_EVENTS_AFTER, {"session_id": session_id, "after_id": after_id})).all()
        if not rows:
            return None, []
        first = rows[0]
        session = SessionRow(first.id, first.platform, first.occurrence_id, first.meeting_id, first.host_id, first.therapist_id, first.created_at)
        meeting = session.meeting
        return session, [
            self.stored_event(meeting, known, row.event_id, row.key, row.data, row.received_at)
            for row in rows
            if row.event_id is not None
        ]

    def stored_event(self, meeting: MeetingRef, known: Container[str], row_id: int, key: str, data: str, received_at: str) -> StoredEvent:
        """Return an event's row as read: with no event if keyed in `known` (the caller holds it) or unreadable (logged by key).

        A row this instance wrote comes undecoded, as it was remembered (bot/storage/written_events.py).
        """
        written = self._written.take(row_id, data, meeting)
        if key in known:
            return StoredEvent(row_id, key, received_at, None)
        event = written if written is not None else _readable(self.at_rest, meeting, row_id, key, data)
        return StoredEvent(row_id, key, received_at, event)

    async def open_stream_occurrences(self, platform: str) -> list[str]:
        """Return the meeting occurrences that have a stream started and no end stored."""
        t = schema.events
        ended = select(t.c.occurrence_id).where(t.c.platform == platform).where(t.c.kind == "meeting_ended")
        query = (
            select(t.c.occurrence_id)
            .where(t.c.platform == platform)
            .where(t.c.kind == "stream_started")
            .where(t.c.occurrence_id.not_in(ended))
            .distinct()
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def session(self, session_id: str, therapist_id: str | None = None) -> SessionRow | None:
        """Return a session, or None if it does not exist or is not this therapist's."""
        query, values = (_SESSION, {"session_id": session_id}) if therapist_id is None else (
            _THERAPISTS_SESSION, {"session_id": session_id, "therapist_id": therapist_id}
        )
        async with reading(self.engine) as conn:
            row = (await conn.execute(query, values)).first()
        return SessionRow(**row._mapping) if row else None

    async def sessions_heard_since(self, since: datetime) -> list[str]:
        """Return the ids of sessions that received an event at or after `since`."""
        s, e = schema.sessions, schema.events
        query = (
            select(s.c.id)
            .distinct()
            .join(e, (e.c.platform == s.c.platform) & (e.c.occurrence_id == s.c.occurrence_id))
            .where(e.c.received_at >= to_stamp(since))
        )
        async with self.engine.connect() as conn:
            return sorted((await conn.execute(query)).scalars())

    async def session_for_occurrence(self, platform: str, occurrence_id: str) -> SessionRow | None:
        """Return the session of a meeting occurrence, if one is stored."""
        return await self.session(session_id_for(platform, occurrence_id))

    async def sessions(
        self, therapist_id: str, platform: str | None = None, occurrence_id: str | None = None, limit: int | None = None
    ) -> list[SessionRow]:
        """Return a therapist's sessions, newest first, optionally for one meeting occurrence."""
        t = schema.sessions
        query = select(t).where(t.c.therapist_id == therapist_id).order_by(t.c.created_at.desc(), t.c.id).limit(limit)
        if platform:
            query = query.where(t.c.platform == platform)
        if occurrence_id:
            query = query.where(t.c.occurrence_id == occurrence_id)
        async with self.engine.connect() as conn:
            return [SessionRow(**row._mapping) for row in (await conn.execute(query)).all()]
