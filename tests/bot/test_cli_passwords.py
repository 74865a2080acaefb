"""`companion therapist set-password`: from standard input for scripts, hashed with Argon2id, checked, and lifting a lock-out."""
from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from datetime import datetime, timezone

from bot.cli import main
from bot.storage.sign_ins import SignInRecords
from bot.storage.store import Store, create_engine
from tests.bot.test_cli import ROOT, write_config
from tests.conftest import storage_keys


def run(config, *args: str, password: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "bot.cli", "therapist", "set-password", *args, "--config", str(config)]
    return subprocess.run(command, input=password + "\n", capture_output=True, text=True, cwd=ROOT, timeout=60)


async def stored(db) -> tuple[str | None, datetime | None]:
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    store = Store(engine, storage_keys())
    await store.upgrade()
    records = SignInRecords(engine)
    now = datetime.now(timezone.utc)
    try:
        return await records.password_hash("t1"), await records.locked_until("t1", now)
    finally:
        await store.close()
        await engine.dispose()


async def lock(db) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    store = Store(engine, storage_keys())
    await store.upgrade()
    for _ in range(5):
        await SignInRecords(engine).failed("t1", datetime.now(timezone.utc))
    await store.close()
    await engine.dispose()


def test_a_password_from_standard_input_is_stored_hashed_and_lifts_a_lock(tmp_path):
    db = tmp_path / "c.db"
    config = write_config(tmp_path, db)
    asyncio.run(lock(db))
    assert asyncio.run(stored(db))[1] is not None
    done = run(config, "t1", password="a long enough passphrase")
    assert done.returncode == 0, done.stderr
    assert "a long enough passphrase" not in done.stdout + done.stderr
    password_hash, locked = asyncio.run(stored(db))
    assert password_hash.startswith("$argon2id$") and "passphrase" not in password_hash and locked is None


def test_bad_passwords_and_unknown_therapists_exit_2_and_change_nothing(tmp_path):
    db = tmp_path / "c.db"
    config = write_config(tmp_path, db)
    short = run(config, "t1", password="short")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr and "Traceback" not in short.stderr
    unknown = run(config, "nobody", password="a long enough passphrase")
    assert unknown.returncode == 2 and "no therapist 'nobody'" in unknown.stderr
    assert asyncio.run(stored(db))[0] is None


def test_new_session_key_prints_a_key_the_settings_accept(capsys):
    assert main(["new-session-key"]) == 0
    key = capsys.readouterr().out.strip()
    assert len(base64.urlsafe_b64decode(key)) == 32
