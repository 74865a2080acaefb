"""The schema upgrades from before Alembic (schema_version 1 to 9): a database they left is brought to 9, then stamped at the baseline."""
from __future__ import annotations

from typing import Callable

from sqlalchemy import Connection, inspect, select

from .at_rest import AtRest
from .previous_version import make_private
from .schema import (
    bot_calls,
    checklist_ticks,
    client_meetings,
    client_profiles,
    deliveries,
    due_work,
    key_checks,
    metadata,
    page_sign_ins,
    passwords,
    platform_subscriptions,
    schema_version,
    session_clients,
    sign_in_failures,
    sign_in_locks,
    stream_tickets,
)


def _private_at_rest(conn: Connection, at_rest: AtRest) -> None:
    metadata.create_all(conn, tables=[key_checks])
    make_private(conn, at_rest)


# Each upgrade takes a schema at version N-1 to N; closed at 9: every later change is an Alembic revision
# (bot/storage/migrations/versions/). An upgrade that rewrites data is handed the keys it is kept with.
UPGRADES: list[Callable[[Connection, AtRest], None]] = [
    lambda conn, _: metadata.create_all(conn),
    lambda conn, _: metadata.create_all(conn, tables=[due_work, checklist_ticks]),
    lambda conn, _: metadata.create_all(conn, tables=[deliveries]),
    lambda conn, _: metadata.create_all(conn, tables=[passwords, sign_in_failures, sign_in_locks, page_sign_ins]),
    lambda conn, _: metadata.create_all(conn, tables=[client_profiles, client_meetings, session_clients]),
    lambda conn, _: metadata.create_all(conn, tables=[platform_subscriptions]),
    lambda conn, _: metadata.create_all(conn, tables=[bot_calls]),  # the Teams calling bot's calls (as main released it)
    _private_at_rest,  # names, topics and emails out of the clear; notes and change details encrypted
    lambda conn, _: metadata.create_all(conn, tables=[stream_tickets]),  # the notice stream's single-use tickets
]


PRIVATE_AT_REST = 8  # the version whose upgrade rewrites rows that held names and the therapist's words in the clear
REWRITTEN = ("sessions", "events", "notes", "client_profiles", "notices")  # the tables it rewrites


def stored_version(conn: Connection) -> int:
    """Return the schema's version as stored (0: a new database)."""
    if not inspect(conn).has_table(schema_version.name):
        return 0
    return conn.execute(select(schema_version.c.version)).scalar() or 0


def upgrade(conn: Connection, at_rest: AtRest) -> int:
    """Bring the schema up to date and return its version."""
    schema_version.create(conn, checkfirst=True)
    current = conn.execute(select(schema_version.c.version)).scalar()
    if current is None:
        conn.execute(schema_version.insert().values(version=0))
        current = 0
    for version, step in enumerate(UPGRADES[current:], start=current + 1):
        step(conn, at_rest)
        conn.execute(schema_version.update().values(version=version))
    return len(UPGRADES)
