"""The keys on the command line: `new-key`, `init`, `rotate-key`, and a clear refusal (exit 2) of a missing or wrong key."""
from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from bot.cli import main
from bot.storage.store import session_id_for
from tests.bot.core.builders import MEETING
from tests.bot.test_cli import ROOT, _stored_meeting, write_config
from tests.conftest import NOTES_KEY, SECRET, free_port

NEW_KEY = "bmV3LW5vdGVzLWtleS1vZi0zMi1ieXRlcy1mb3ItdGU="
STRANGER = "YS1rZXktbm8tY29uZmlnLWhhcy0zMi1ieXRlcy1sbmc="
NOTE = "He mentioned the allotment shed"
SID = session_id_for("zoom", MEETING.occurrence_id)


def companion(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def with_notes_keys(config: Path, *notes_keys: str) -> Path:
    listed = ", ".join(f'"{k}"' for k in notes_keys)
    config.write_text(config.read_text().replace(f'notes_keys = ["{NOTES_KEY}"]', f"notes_keys = [{listed}]"))
    return config


def test_new_key_prints_a_fresh_fernet_key_each_time(capsys):
    keys = []
    for _ in range(2):
        assert main(["new-key"]) == 0
        keys.append(capsys.readouterr().out.strip())
    assert keys[0] != keys[1]
    assert Fernet(keys[0]).decrypt(Fernet(keys[0]).encrypt(b"x")) == b"x"


def test_init_writes_a_private_starter_file_with_fresh_keys_once(tmp_path):
    config = tmp_path / "companion.toml"
    made = companion("init", "--config", str(config))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    written = config.read_text()
    again = companion("init", "--config", str(config))
    assert again.returncode == 2 and "exists" in again.stderr and config.read_text() == written
    checked = companion("check-config", "--config", str(config))
    assert checked.returncode == 2 and checked.stderr.count("  - ") == 1  # only what the operator must fill in
    assert "[zoom] webhook_secret_token is missing" in checked.stderr
    config.write_text(written.replace('webhook_secret_token = ""', f'webhook_secret_token = "{SECRET}"'))
    assert companion("check-config", "--config", str(config)).returncode == 0
    other = tmp_path / "other.toml"
    assert companion("init", "--config", str(other)).returncode == 0
    secrets = ("session_key =", "data_key =", "notes_keys =", "api_token =")
    mine = [line for line in written.splitlines() if line.startswith(secrets)]
    assert len(mine) == 4 and not set(mine) & set(other.read_text().splitlines())  # fresh keys each time


def test_without_keys_nothing_starts_and_the_message_says_how_to_make_one(tmp_path):
    config = write_config(tmp_path, tmp_path / "x.db")
    config.write_text(config.read_text().split("[privacy]")[0] + "[[therapists]]" + config.read_text().split("[[therapists]]")[1])
    for command in (["serve", "--config", str(config), "--port", str(free_port())], ["check-config", "--config", str(config)]):
        result = companion(*command)
        assert result.returncode == 2, command
        assert "[privacy] notes_keys is missing" in result.stderr and "[privacy] data_key is missing" in result.stderr
        assert "companion new-key" in result.stderr and "Traceback" not in result.stderr


def test_a_wrong_notes_key_is_a_clear_error_never_garbage(tmp_path):
    db = tmp_path / "c.db"
    asyncio.run(_stored_meeting(db, NOTE))
    config = with_notes_keys(write_config(tmp_path, db), STRANGER)
    for command in (["summary", SID, "--config", str(config)], ["serve", "--config", str(config), "--port", str(free_port())]):
        result = companion(*command)
        assert result.returncode == 2, (command, result.stderr)
        assert "companion: the notes key does not open stored notes" in result.stderr and "Traceback" not in result.stderr
        assert result.stdout == ""


def test_rotate_key_reencrypts_under_the_new_key_and_the_old_one_can_go(tmp_path):
    db = tmp_path / "c.db"
    asyncio.run(_stored_meeting(db, NOTE))
    config = with_notes_keys(write_config(tmp_path, db), NEW_KEY, NOTES_KEY)
    rotated = companion("rotate-key", "--config", str(config))
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted 2 stored value(s) under the first notes key; 0 already were" in rotated.stdout  # the note, the key check
    assert "re-encrypted 0 stored value(s) under the first notes key; 1 already were" in companion("rotate-key", "--config", str(config)).stdout
    config.write_text(config.read_text().replace(f', "{NOTES_KEY}"', ""))
    summary = companion("summary", SID, "--config", str(config))
    assert summary.returncode == 0, summary.stderr
    assert [n["text"] for n in json.loads(summary.stdout)["notes"]] == [NOTE]
