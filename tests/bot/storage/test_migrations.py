"""Alembic migrations: the last release's database is migrated with its summaries unchanged, a new one is created by the
revisions, a database newer than the code is refused everywhere, and the commands that only read never create or migrate.

The last release's database comes from tests/fixtures/storage/before_migrations.json, which that release's own code
wrote (see make_before_migrations.py beside it): its DDL for SQLite and PostgreSQL and every row of every table.
"""
from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command as alembic_commands
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from bot.cli import main
from bot.storage import schema
from bot.storage.schema import metadata
from bot.storage.schema_revision import BASELINE, MIGRATIONS, SchemaProblem, head
from bot.storage.store import Store, create_engine
from bot.web import keys
from bot.web.app import create_app
from tests.bot.storage.test_previous_version import previous_database
from tests.bot.test_cli_keys import companion
from tests.bot.test_cli_privacy import write_config
from tests.conftest import TOKEN_A, emptied_postgres, free_port, load_fixture, storage_keys
from tests.fakes.clock import ManualClock

A = {"Authorization": f"Bearer {TOKEN_A}"}
ROOT = Path(__file__).parent.parent.parent.parent
RELEASE = load_fixture("storage/before_migrations.json")
MIGRATE = "run `companion migrate --config FILE` first"
# Every command that opens the database, with what it needs besides --config.
COMMANDS = [
    ["migrate"], ["summary", "s1"], ["purge"], ["purge", "--dry-run"], ["client", "export", "C-17", "--out", "x.json"],
    ["client", "forget", "C-17"], ["rotate-key"], ["therapist", "set-password", "t1"],
]
READERS = [["summary", "s1"], ["purge", "--dry-run"], ["client", "export", "C-17", "--out", "x.json"]]
LATER_TABLES = {"session_listing", "stream_leases"}  # made by the revisions after the baseline
LISTED = ("ix_sessions_listed", ["therapist_id", "created_at"], False)
LATER_INDEXES = {"sessions": {"ix_sessions_listed"}}  # given to version-9 tables by those revisions


def _as_version_9(stored: dict[str, Any]) -> dict[str, Any]:
    """Return a schema as `_stored` reports it without what the revisions after the baseline added."""
    return {
        name: (columns, key, unique, [i for i in indexes if i[0] not in LATER_INDEXES.get(name, set())])
        for name, (columns, key, unique, indexes) in stored.items()
        if name not in LATER_TABLES
    }


def _stored(url: str) -> dict[str, Any]:
    """Return the schema as the database reports it: each table's columns, key, unique constraints and indexes."""

    def read(conn: Connection) -> dict[str, Any]:
        found = inspect(conn)
        return {
            name: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(name)],
                found.get_pk_constraint(name)["constrained_columns"],
                sorted((u["name"], u["column_names"]) for u in found.get_unique_constraints(name)),
                sorted((i["name"], i["column_names"], bool(i["unique"])) for i in found.get_indexes(name)),
            )
            for name in found.get_table_names()
            if name != "alembic_version"
        }

    return asyncio.run(_on(url, read))


async def _on(url: str, work: Any) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(work)
    finally:
        await engine.dispose()


def _versions(url: str) -> tuple[str | None, int | None]:
    """Return the stamped revision and the schema_version, reading with SQL (None where there is none)."""

    def read(conn: Connection) -> tuple[str | None, int | None]:
        tables = inspect(conn).get_table_names()
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar() if "alembic_version" in tables else None
        version = conn.execute(text("SELECT version FROM schema_version")).scalar() if "schema_version" in tables else None
        return revision, version

    return asyncio.run(_on(url, read))


async def _migrated(url: str) -> None:
    engine = create_engine(url)
    store = Store(engine, storage_keys())
    await store.upgrade()
    await store.close()
    await engine.dispose()


def _execute(url: str, statement: str) -> None:
    async def run() -> None:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.exec_driver_sql(statement)
        await engine.dispose()

    asyncio.run(run())


def test_the_fixture_is_the_last_release_before_alembic():
    assert RELEASE["rows"]["schema_version"] == [{"version": 9}] and "alembic_version" not in RELEASE["rows"]
    assert len(RELEASE["summaries"]) == len(RELEASE["rows"]["sessions"]) == 2


async def test_the_last_releases_database_is_migrated_at_start_with_its_summaries_unchanged(aiohttp_client, make_settings, storage_url):
    await previous_database(storage_url, RELEASE)
    clock = ManualClock(datetime.fromisoformat(RELEASE["now"]))
    client = await aiohttp_client(create_app(make_settings(storage_url), clock=clock))
    await client.app[keys.EVALUATION].drain()  # the recent sessions are judged again at start
    for session_id, expected in RELEASE["summaries"].items():
        assert await (await client.get(f"/api/sessions/{session_id}/summary", headers=A)).json() == expected, session_id
    notices = await client.app[keys.STORE].notices("t1")
    assert sorted(n.key for n in notices) == sorted(r["key"] for r in RELEASE["rows"]["notices"])  # nothing raised again
    await client.close()
    assert await asyncio.to_thread(_versions, storage_url) == (head(), 9)


def test_companion_migrate_brings_the_last_releases_database_to_the_code_and_says_from_where(tmp_path, capsys, storage_url):
    asyncio.run(previous_database(storage_url, RELEASE))
    config = write_config(tmp_path, storage_url)
    session_id, expected = sorted(RELEASE["summaries"].items())[0]
    for reader in READERS:  # behind the code: the commands that only read say so, and change nothing
        assert main([*reader, "--config", str(config)]) == 2, reader
        assert f"the database is at schema_version 9 (from before Alembic) and this version needs revision {head()}: {MIGRATE}" in capsys.readouterr().err
    assert _versions(storage_url) == (None, 9)
    assert main(["migrate", "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"migrated the database from schema_version 9 (from before Alembic) to revision {head()}\n"
    assert main(["summary", session_id, "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out) == expected
    assert _versions(storage_url) == (head(), 9)


def test_companion_migrate_creates_a_new_database_with_the_last_releases_schema(tmp_path, capsys, storage_url, request):
    config = write_config(tmp_path, storage_url)
    assert main(["migrate", "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"migrated the database from nothing (a new, empty database) to revision {head()}\n"
    assert main(["migrate", "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"migrated the database from revision {head()} to revision {head()} (it was up to date)\n"
    assert _versions(storage_url) == (head(), 9)  # so the upgrades from before Alembic never run on it
    # Made by the revisions, it is what the last release made plus the later revisions' tables: the baseline creates
    # exactly the version-9 tables, from schema.py, which must describe them as version 9 did until a revision changes
    # one (the baseline then keeps that table's version-9 copy).
    made = _stored(storage_url)
    release = _stored(_release_database(tmp_path, storage_url, request))
    assert _as_version_9(made) == release
    assert set(made) - set(release) == LATER_TABLES


def _release_database(tmp_path: Path, storage_url: str, request: pytest.FixtureRequest) -> str:
    """Return the URL of a database as the last release before Alembic made it, beside the test's own."""
    if storage_url.startswith("sqlite"):
        release_url = f"sqlite+aiosqlite:///{tmp_path / 'release.db'}"
    else:
        release_url = emptied_postgres(request.getfixturevalue("postgres_database"))
    asyncio.run(previous_database(release_url, RELEASE))
    return release_url


def _to_revision(url: str, revision: str, how: Any = alembic_commands.upgrade) -> None:
    """Bring a database to `revision` exactly, as an earlier version of the code migrated it (or stamp it there)."""

    def upgrade(conn: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        how(config, revision)

    async def run() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(upgrade)
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_the_baseline_makes_exactly_what_the_last_release_made(tmp_path, storage_url, request):
    _to_revision(storage_url, BASELINE)
    assert _versions(storage_url) == (BASELINE, 9)
    made = _stored(storage_url)
    assert made == _stored(_release_database(tmp_path, storage_url, request))


def test_a_baseline_database_is_migrated_to_the_session_list_and_readers_never_migrate_it(tmp_path, capsys, storage_url):
    _to_revision(storage_url, BASELINE)
    config = write_config(tmp_path, storage_url)
    for reader in READERS:  # behind the code: the commands that only read say so, and change nothing
        assert main([*reader, "--config", str(config)]) == 2, reader
        assert f"the database is at revision {BASELINE} and this version needs revision {head()}: {MIGRATE}" in capsys.readouterr().err
    assert not LATER_TABLES & set(_stored(storage_url)) and LISTED not in _stored(storage_url)["sessions"][3]
    assert main(["migrate", "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"migrated the database from revision {BASELINE} to revision {head()}\n"
    assert _versions(storage_url) == (head(), 9)
    columns = _stored(storage_url)["session_listing"][0]
    assert LISTED in _stored(storage_url)["sessions"][3]
    assert [name for name, _, _ in columns] == [c.name for c in schema.session_listing.columns]
    assert [name for name, _, _ in _stored(storage_url)["stream_leases"][0]] == [c.name for c in schema.stream_leases.columns]


async def test_a_baseline_database_is_migrated_at_start_and_lists_its_sessions(aiohttp_client, make_settings, storage_url):
    await previous_database(storage_url, RELEASE)
    await asyncio.to_thread(_to_revision, storage_url, BASELINE, alembic_commands.stamp)  # as the first Alembic version left it
    engine = create_engine(storage_url)
    try:
        assert str(await Store(engine, storage_keys()).upgrade()) == f"from revision {BASELINE} to revision {head()}"
    finally:
        await engine.dispose()
    clock = ManualClock(datetime.fromisoformat(RELEASE["now"]))
    client = await aiohttp_client(create_app(make_settings(storage_url), clock=clock))
    listed = await (await client.get("/api/sessions", headers=A)).json()
    # Stored before the list kept rows, each session is judged once when first listed, as its summary says.
    assert sorted(s["session_id"] for s in listed) == sorted(RELEASE["summaries"])
    for entry in listed:
        summary = RELEASE["summaries"][entry["session_id"]]
        assert entry == {k: summary[k] for k in ("session_id", "platform", "meeting", "client_code", "status", "started_at", "ended_at")}
    await client.close()


def test_every_schema_change_is_a_revision(storage_url):
    """The revisions make exactly the tables bot/storage/schema.py describes: a change without its revision fails here."""
    asyncio.run(_migrated(storage_url))
    assert asyncio.run(_on(storage_url, lambda conn: compare_metadata(MigrationContext.configure(conn), metadata))) == []


@pytest.mark.parametrize("newer, named", [
    ("UPDATE alembic_version SET version_num = '0999'", "revision 0999"),
    ("UPDATE schema_version SET version = 10", "schema_version 10"),
])
def test_a_database_newer_than_the_code_is_refused_by_serve_and_every_command(tmp_path, capsys, monkeypatch, sqlite_url, newer, named):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a password long enough\n" * len(COMMANDS)))  # for set-password
    config = write_config(tmp_path, sqlite_url)
    assert main(["migrate", "--config", str(config)]) == 0
    _execute(sqlite_url, newer)
    before = _versions(sqlite_url)
    refusal = f"the database is newer than this version of Session Companion: it is at {named}, and this version knows up to revision {head()}"
    capsys.readouterr()
    for command in COMMANDS:
        assert main([*command, "--config", str(config)]) == 2, command
        assert refusal in capsys.readouterr().err, command
    served = companion("serve", "--config", str(config), "--port", str(free_port()))
    assert served.returncode == 2 and refusal in served.stderr and "Traceback" not in served.stderr
    assert _versions(sqlite_url) == before and not (tmp_path / "x.json").exists()


async def test_a_database_newer_than_the_code_stops_the_service_at_start(aiohttp_client, make_settings, storage_url):
    await _migrated(storage_url)
    await asyncio.to_thread(_execute, storage_url, "UPDATE alembic_version SET version_num = '0999'")
    with pytest.raises(SchemaProblem, match=f"it is at revision 0999, and this version knows up to revision {head()}"):
        await aiohttp_client(create_app(make_settings(storage_url)))


@pytest.mark.parametrize("reader", READERS)
def test_a_reader_on_a_missing_sqlite_database_creates_nothing(tmp_path, capsys, reader):
    db = tmp_path / "data" / "companion.db"
    config = write_config(tmp_path, f"sqlite+aiosqlite:///{db}")
    assert main([*reader, "--config", str(config)]) == 2
    assert capsys.readouterr().err == f"companion: there is no database at {db}: {MIGRATE}\n"
    assert not db.parent.exists()


def test_a_reader_on_an_empty_postgresql_database_creates_nothing(tmp_path, capsys, postgres_url):
    config = write_config(tmp_path, postgres_url)
    for reader in READERS:
        assert main([*reader, "--config", str(config)]) == 2, reader
        assert f"the database is empty and this version needs revision {head()}: {MIGRATE}" in capsys.readouterr().err
    assert _stored(postgres_url) == {}


async def test_instances_starting_together_on_the_last_releases_database_migrate_it_once(storage_url):
    await previous_database(storage_url, RELEASE)
    engines = [create_engine(storage_url) for _ in range(3)]
    try:
        migrations = await asyncio.gather(*(Store(e, storage_keys()).upgrade() for e in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted(str(m) for m in migrations) == [f"from revision {head()} to revision {head()}"] * 2 + [
        f"from schema_version 9 (from before Alembic) to revision {head()}"
    ]


def test_the_migrations_ship_in_the_package(tmp_path):
    """Built as a wheel holds it (setuptools' build_py, with pyproject.toml's package-data), the package migrates a database."""
    source = tmp_path / "source"
    for part in ("bot", "integrations"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, source / part)
    build = [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py", "--build-lib", str(tmp_path / "built")]
    subprocess.run(build, cwd=source, check=True, capture_output=True, timeout=300)
    config = write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'new.db'}")
    migrated = subprocess.run(
        [sys.executable, "-m", "bot.cli", "migrate", "--config", str(config)],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path / "built")}, capture_output=True, text=True, timeout=60,
    )
    assert migrated.stdout == f"migrated the database from nothing (a new, empty database) to revision {head()}\n", migrated.stderr
    assert (tmp_path / "built" / "bot" / "storage" / "migrations" / "versions" / "0001_baseline.py").exists()
