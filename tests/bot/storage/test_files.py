"""The record's files are the operator's alone: the database (with its -wal and -shm), and what commands write."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from bot.storage.files import private_file, write_private
from bot.storage.store import Store, create_engine
from tests.bot.core.builders import MEETING, at, started
from tests.conftest import storage_keys

ROOT = Path(__file__).parents[3]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_sqlite_database_and_its_wal_and_shm_files_are_mode_0600(tmp_path):
    old_umask = os.umask(0o022)  # as a shell leaves it: files readable by all unless the service says otherwise
    try:
        db = tmp_path / "companion.db"
        engine = create_engine(f"sqlite+aiosqlite:///{db}")
        store = Store(engine, storage_keys())
        await store.upgrade()
        await store.record_events("t1", MEETING, [("k1", started())], at(0))
        siblings = [db.with_name(db.name + suffix) for suffix in ("-wal", "-shm")]
        assert [p.exists() for p in siblings] == [True, True]
        assert [mode(p) for p in (db, *siblings)] == [0o600] * 3
        await store.close()
        await engine.dispose()
    finally:
        os.umask(old_umask)


async def test_an_existing_database_readable_by_others_loses_their_access_at_start(tmp_path):
    db = tmp_path / "companion.db"
    db.write_bytes(b"")
    db.chmod(0o644)
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    assert mode(db) == 0o600
    await engine.dispose()


def test_private_files_are_made_0600_and_written_over_with_0600(tmp_path):
    fresh = tmp_path / "deep" / "new.db"
    private_file(fresh)
    assert fresh.read_bytes() == b"" and mode(fresh) == 0o600
    shared = tmp_path / "export.json"
    shared.write_text("x" * 100)
    shared.chmod(0o664)
    write_private(shared, b"{}")
    assert shared.read_bytes() == b"{}" and mode(shared) == 0o600


def test_every_command_runs_with_a_umask_that_keeps_new_files_private(tmp_path):
    # The umask covers whatever a library creates on its own (SQLite's journal, a PDF's temporary files).
    probe = (
        "import os, bot.cli\n"
        "bot.cli._main = lambda argv: open(os.environ['PROBE'], 'w').close() or 0\n"
        "os.umask(0o022)\n"
        "raise SystemExit(bot.cli.main(['check-config', '--config', 'x']))\n"
    )
    target = tmp_path / "made-by-a-command"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={**os.environ, "PROBE": str(target)}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert mode(target) == 0o600
