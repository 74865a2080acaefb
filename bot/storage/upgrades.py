"""The schema upgrades, applied in order at start-up under a lock (see Store.upgrade)."""
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
)


def _private_at_rest(conn: Connection, at_rest: AtRest) -> None:
    metadata.create_all(conn, tables=[key_checks])
    make_private(conn, at_rest)


# Each upgrade takes a schema at version N-1 to N; append, never edit, once released. An upgrade
# that rewrites data is handed the keys it is kept with.
UPGRADES: list[Callable[[Connection, AtRest], None]] = [
    lambda conn, _: metadata.create_all(conn),
    lambda conn, _: metadata.create_all(conn, tables=[due_work, checklist_ticks]),
    lambda conn, _: metadata.create_all(conn, tables=[deliveries]),
    lambda conn, _: metadata.create_all(conn, tables=[passwords, sign_in_failures, sign_in_locks, page_sign_ins]),
    lambda conn, _: metadata.create_all(conn, tables=[client_profiles, client_meetings, session_clients]),
    lambda conn, _: metadata.create_all(conn, tables=[platform_subscriptions]),
    lambda conn, _: metadata.create_all(conn, tables=[bot_calls]),  # the Teams calling bot's calls (as main released it)
    _private_at_rest,  # names, topics and emails out of the clear; notes and change details encrypted
]


BOT_CALLS = 7  # the version whose upgrade adds bot_calls
PRIVATE_AT_REST = 8  # the version whose upgrade rewrites rows that held names and the therapist's words in the clear
REWRITTEN = ("sessions", "events", "notes", "client_profiles", "notices")  # the tables it rewrites

# The two upgrades after version 6 were written on two branches at once, each as version 7. `main`'s (bot_calls)
# keeps its number; the privacy upgrade follows it. A database that main's code upgraded stands at 7 with
# bot_calls and rows in the clear: the privacy upgrade (8) runs as for any older one. A database that the
# privacy-at-rest branch upgraded before the merge also stands at 7, but its 7 was the privacy upgrade (it has
# key_checks, which no version of main ever made) and it has no bot_calls: it is given bot_calls and counted
# as 8, so that its rows are never rewritten a second time.


def _privacy_first(conn: Connection, version: int) -> bool:
    """Whether a database at `version` is one the privacy-at-rest branch upgraded before bot_calls came (see above)."""
    return version == BOT_CALLS and inspect(conn).has_table(key_checks.name)


def _stamped(conn: Connection) -> int:
    return conn.execute(select(schema_version.c.version)).scalar() or 0


def stored_version(conn: Connection) -> int:
    """Return the schema's version as stored (0: a new database; a privacy-first 7 counts as the 8 it is upgraded to)."""
    if not inspect(conn).has_table(schema_version.name):
        return 0
    version = _stamped(conn)
    return PRIVATE_AT_REST if _privacy_first(conn, version) else version


def upgrade(conn: Connection, at_rest: AtRest) -> int:
    """Bring the schema up to date and return its version."""
    schema_version.create(conn, checkfirst=True)
    current = conn.execute(select(schema_version.c.version)).scalar()
    if current is None:
        conn.execute(schema_version.insert().values(version=0))
        current = 0
    if _privacy_first(conn, current):
        metadata.create_all(conn, tables=[bot_calls])  # the one upgrade it missed
        conn.execute(schema_version.update().values(version=PRIVATE_AT_REST))
        current = PRIVATE_AT_REST
    for version, step in enumerate(UPGRADES[current:], start=current + 1):
        step(conn, at_rest)
        conn.execute(schema_version.update().values(version=version))
    return len(UPGRADES)
