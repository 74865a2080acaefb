"""Check `[storage] url`, and reach its database once without creating or changing it, saying the driver's own reason."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")
CONNECT_SECONDS = 10
# PostgreSQL's reasons that name no value of a statement: connection, authorisation, no such database, resources,
# the server stopping, and a missing table or right. Others (a refused value) may quote a client's data.
SAFE_SQLSTATE_CLASSES = ("08", "28", "3D", "53", "57", "58")
SAFE_SQLSTATES = ("42501", "42P01")
# SQLite's own words for its primary error codes (sqlite3_errstr), which never quote a value.
SQLITE_REASONS = {
    "SQLITE_CANTOPEN": "unable to open database file",
    "SQLITE_NOTADB": "file is not a database",
    "SQLITE_READONLY": "attempt to write a readonly database",
    "SQLITE_BUSY": "database is locked",
    "SQLITE_LOCKED": "database table is locked",
    "SQLITE_IOERR": "disk I/O error",
    "SQLITE_FULL": "database or disk is full",
    "SQLITE_CORRUPT": "database disk image is malformed",
    "SQLITE_PERM": "access permission denied",
}


class DatabaseProblem(Exception):
    """The database did not answer; the message is the driver's reason."""


def storage_url_problem(url: str) -> str | None:
    """Say what is wrong with a storage URL before anything connects (None: nothing). The URL is not quoted: it may hold a password."""
    if not url.startswith(SCHEMES):
        return f"[storage] url must start with {' or '.join(SCHEMES)}"
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return "[storage] url cannot be read as a database URL (a port must be a number; %-encode @, : and / in a password)"
    if parsed.drivername.startswith("sqlite") and parsed.host:
        return (
            f"[storage] url names a host ({parsed.host}): an SQLite URL has three slashes before the file, "
            "sqlite+aiosqlite:///companion.db, and four before an absolute path, sqlite+aiosqlite:////var/lib/companion/companion.db"
        )
    if parsed.drivername.startswith("postgresql") and not parsed.database:
        return "[storage] url names no database: postgresql+asyncpg://user@host:5432/database"
    return None


def driver_reason(err: DBAPIError) -> str:
    """Return the driver's own reason for a failure when it cannot quote a value (a role, a file), else the kind of error."""
    orig, cause = err.orig, getattr(err.orig, "__cause__", None)  # asyncpg's error is the cause of SQLAlchemy's adapted one
    sqlstate = str(getattr(cause, "sqlstate", "") or "")
    if sqlstate.startswith(SAFE_SQLSTATE_CLASSES) or sqlstate in SAFE_SQLSTATES:
        return str(cause)
    name = str(getattr(orig, "sqlite_errorname", ""))
    primary = "_".join(name.split("_")[:2])  # SQLITE_IOERR_SHORT_READ is an SQLITE_IOERR
    return SQLITE_REASONS.get(primary, type(orig).__name__)


async def reach_database(url: str) -> str:
    """Connect to the database once and say what was found; raise DatabaseProblem with the driver's reason.

    SQLite's file is opened read-only and immutable (no -wal or -shm file is made), and a missing one is not made.
    """
    from sqlalchemy.ext.asyncio import create_async_engine  # here: reading the settings (companion serve's first step) needs no engine

    parsed = make_url(url)
    sqlite = parsed.drivername.startswith("sqlite")
    if sqlite:
        missing = _sqlite_file(parsed)
        if missing is not None:
            return missing
        path = Path(str(parsed.database)).resolve()
        url = f"sqlite+aiosqlite:///file:{quote(str(path))}?mode=ro&immutable=1&uri=true"
    engine = create_async_engine(url, hide_parameters=True, connect_args={} if sqlite else {"timeout": CONNECT_SECONDS})
    try:
        async with engine.connect() as connection:
            found = (await connection.execute(text("SELECT count(*) FROM sqlite_master" if sqlite else "SELECT 1"))).scalar()
    except DBAPIError as err:
        raise DatabaseProblem(driver_reason(err)) from None
    except OSError as err:  # refused, or no such host
        raise DatabaseProblem(err.strerror or type(err).__name__) from None
    except TimeoutError:
        raise DatabaseProblem(f"no answer within {CONNECT_SECONDS} s") from None
    finally:
        await engine.dispose()
    if sqlite:
        return f"SQLite database {path} opens ({found} tables and indexes)"
    return f"PostgreSQL database {parsed.database} on {parsed.host or 'the local socket'} answers"


def _sqlite_file(parsed: URL) -> str | None:
    """Say what a database file that is not there yet means (None: it is there, to be opened); raise DatabaseProblem if it cannot be made."""
    if not parsed.database or parsed.database == ":memory:":
        return "SQLite in memory: nothing is kept once the service stops"
    path = Path(parsed.database)
    if path.exists():
        return None
    folder = path.parent
    if not folder.is_dir():
        raise DatabaseProblem(f"unable to open database file: no such directory {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DatabaseProblem(f"unable to open database file: the folder {folder} is not writable, so {path.name} cannot be made in it")
    return f"SQLite database {path.resolve()} does not exist yet: companion serve makes it"
