"""Read a database as someone who took its file would: every value of every column of every table, and the file's bytes."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import urlparse


def every_value(storage_url: str) -> str:
    """Return every value the database holds, as text, one a line (SQLite read with sqlite3, PostgreSQL with psycopg2)."""
    if storage_url.startswith("sqlite"):
        with sqlite3.connect(storage_url.split(":///", 1)[1]) as conn:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return "\n".join(str(v) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"') for v in row)
    import psycopg2

    url = urlparse(storage_url.replace("+asyncpg", ""))
    conn = psycopg2.connect(host=url.hostname, port=url.port, user=url.username, dbname=url.path.lstrip("/"))
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        tables = [r[0] for r in cursor.fetchall()]
        values = []
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}"')
            values += [str(v) for row in cursor.fetchall() for v in row]
        return "\n".join(values)
    finally:
        conn.close()


def file_bytes(storage_url: str) -> bytes | None:
    """Return the bytes of the files holding the database's tables, or None where this process cannot read them.

    SQLite: the database and its write-ahead log, if one is left. PostgreSQL (a local server): each table's
    files and its TOAST table's, after a checkpoint has written every change to them.
    """
    if storage_url.startswith("sqlite"):
        path = Path(storage_url.split(":///", 1)[1])
        return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
    import psycopg2

    url = urlparse(storage_url.replace("+asyncpg", ""))
    conn = psycopg2.connect(host=url.hostname, port=url.port, user=url.username, dbname=url.path.lstrip("/"))
    conn.autocommit = True
    try:
        cursor = conn.cursor()
        cursor.execute("CHECKPOINT")
        cursor.execute("SHOW data_directory")
        folder = Path(cursor.fetchone()[0])
        cursor.execute(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname IN ('public', 'pg_toast') AND c.relkind IN ('r', 't') AND pg_relation_filepath(c.oid) IS NOT NULL"
        )
        files = [folder / row[0] for row in cursor.fetchall()]
    finally:
        conn.close()
    try:
        return b"".join(p.read_bytes() for f in files for p in [f, *sorted(f.parent.glob(f.name + ".[0-9]*"))] if p.exists())
    except PermissionError:
        return None


def found(secrets: list[str], text: str, data: bytes = b"") -> list[str]:
    """Return the secrets that appear in `text` (case ignored) or in `data` (as UTF-8 or UTF-16)."""
    lowered, raw = text.casefold(), data.lower()
    return [s for s in secrets if s.casefold() in lowered or s.lower().encode() in raw or s.lower().encode("utf-16-le") in raw]
