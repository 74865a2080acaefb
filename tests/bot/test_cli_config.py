"""`companion check-config` (with the database's own reason), `init`, `--version` and COMPANION_CONFIG, run as an operator would."""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from tests.bot.test_cli import ROOT, _stored_meeting, write_config
from tests.conftest import DATA_KEY, NOTES_KEY, SECRET

KEYS = {"COMPANION_PRIVACY_DATA_KEY": DATA_KEY, "COMPANION_PRIVACY_NOTES_KEY": NOTES_KEY}


def companion(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `companion` from this tree, with no COMPANION_* variable but those given."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("COMPANION_")}
    environ |= {"PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=120)


def with_storage(config: Path, url: str) -> Path:
    config.write_text("\n".join(f'url = "{url}"' if line.startswith("url = ") else line for line in config.read_text().splitlines()) + "\n")
    return config


def test_an_unedited_copy_of_the_example_fails_naming_its_placeholders_and_nothing_starts(tmp_path):
    example = shutil.copy(ROOT / "config" / "companion.example.toml", tmp_path / "companion.toml")
    checked = companion("check-config", "--config", str(example), cwd=tmp_path)
    assert checked.returncode == 2 and "Traceback" not in checked.stderr
    assert "[zoom] webhook_secret_token is a placeholder, not a secret" in checked.stderr
    assert "[[therapists]] #1 (t1) api_token is a placeholder, not a secret" in checked.stderr
    served = companion("serve", "--config", str(example), "--port", "0", cwd=tmp_path, env=KEYS)  # the keys given: the placeholders alone stop it
    assert served.returncode == 2 and served.stderr.count("  - ") == 2 and "is a placeholder" in served.stderr
    assert not (tmp_path / "companion.db").exists()


def test_check_config_says_postgresqls_own_reason_for_a_role_that_does_not_exist(tmp_path, postgres_database):
    config = write_config(tmp_path, tmp_path / "x.db")
    with_storage(config, f"postgresql+asyncpg://companion_no_such_role@127.0.0.1:5432/{postgres_database}")
    checked = companion("check-config", "--config", str(config))
    assert checked.returncode == 1 and "Traceback" not in checked.stderr
    assert 'companion: check-config: the database did not answer: role "companion_no_such_role" does not exist' in checked.stderr
    # Every command says the driver's reason, not only check-config.
    summary = companion("summary", "s-1", "--config", str(config))
    assert summary.returncode == 1 and 'summary failed: the database did not answer: role "companion_no_such_role" does not exist' in summary.stderr
    with_storage(config, f"postgresql+asyncpg://postgres@127.0.0.1:5432/{postgres_database}")
    answered = companion("check-config", "--config", str(config))
    assert answered.returncode == 0, answered.stderr
    assert f"PostgreSQL database {postgres_database} on 127.0.0.1 answers" in answered.stdout


def test_check_config_names_a_folder_that_does_not_exist_and_makes_nothing(tmp_path):
    missing = tmp_path / "no-such-folder"
    config = write_config(tmp_path, missing / "companion.db")
    checked = companion("check-config", "--config", str(config))
    assert checked.returncode == 1 and "settings are valid" in checked.stdout
    assert f"the database did not answer: unable to open database file: no such directory {missing}" in checked.stderr
    assert not missing.exists()
    offline = companion("check-config", "--offline", "--config", str(config))
    assert offline.returncode == 0 and offline.stderr == "" and "settings are valid" in offline.stdout
    assert "SQLite" not in offline.stdout and not missing.exists()


def test_check_config_opens_an_existing_database_without_changing_it_and_makes_no_new_one(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir()
    db = folder / "companion.db"
    asyncio.run(_stored_meeting(db))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    checked = companion("check-config", "--config", str(write_config(tmp_path, db)))
    assert checked.returncode == 0, checked.stderr
    assert f"SQLite database {db} opens" in checked.stdout
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # no -wal or -shm file either
    fresh = companion("check-config", "--config", str(write_config(tmp_path, folder / "new.db")))
    assert fresh.returncode == 0 and f"SQLite database {folder / 'new.db'} does not exist yet" in fresh.stdout
    assert not (folder / "new.db").exists()
    (folder / "notes.txt").write_text("not a database, but named as one " * 40)
    junk = companion("check-config", "--config", str(write_config(tmp_path, folder / "notes.txt")))
    assert junk.returncode == 1 and "the database did not answer: file is not a database" in junk.stderr


def test_version_prints_the_packages_version():
    shown = companion("--version")
    assert shown.returncode == 0 and shown.stdout.strip() == f"companion {version('session-companion')}"


def test_companion_config_is_the_default_config_of_every_command(tmp_path):
    config = write_config(tmp_path, tmp_path / "x.db")
    assert companion("check-config", "--offline", env={"COMPANION_CONFIG": str(config)}).returncode == 0
    for command in (["check-config"], ["summary", "s-1"], ["purge", "--dry-run"], ["therapist", "set-password", "t1"], ["init"]):
        refused = companion(*command)
        assert refused.returncode == 2, command
        assert "needs a settings file: give --config FILE or set COMPANION_CONFIG" in refused.stderr and "Traceback" not in refused.stderr
    made = tmp_path / "made.toml"
    assert companion("init", env={"COMPANION_CONFIG": str(made)}).returncode == 0 and made.exists()


def test_an_unknown_companion_variable_stops_the_command_naming_the_closest_key(tmp_path):
    config = write_config(tmp_path, tmp_path / "x.db")
    refused = companion("check-config", "--config", str(config), env={"COMPANION_ZOOM_WEBHOOK_SECRET": SECRET})
    assert refused.returncode == 2
    assert "environment variable COMPANION_ZOOM_WEBHOOK_SECRET is not one the service reads (did you mean COMPANION_ZOOM_WEBHOOK_SECRET_TOKEN?)" in refused.stderr
    assert SECRET not in refused.stderr


def test_init_says_what_to_fill_in_and_the_file_passes_once_it_is_filled(tmp_path):
    config = tmp_path / "companion.toml"
    made = companion("init", "--config", str(config), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    for key in ("[zoom] webhook_secret_token", "[[therapists]] t1 name", "[[therapists]] t1 zoom_user_id"):
        assert f"  {key}: " in made.stdout
    fill = {"webhook_secret_token": "EXR7JH5pR3S2I9Rdofqf1A", "name": "Dr R. Okafor", "zoom_user_id": "hTq3Wl8kR0yC5fG1nB7xZw"}
    lines = config.read_text().splitlines()
    assert sum("FILL IN" in line for line in lines) == len(fill) + 1  # the header's mention, and one line per key
    filled = [f'{line.split(" =")[0]} = "{fill[line.split(" =")[0]]}"' if "# FILL IN" in line else line for line in lines]
    config.write_text("\n".join(filled) + "\n")
    checked = companion("check-config", "--config", str(config), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "settings are valid (1 therapist(s), 0 client profile(s))" in checked.stdout and "does not exist yet" in checked.stdout
    assert not (tmp_path / "companion.db").exists()
