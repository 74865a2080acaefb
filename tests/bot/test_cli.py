"""The `companion` command: clear messages and exit code 2 for bad input, never a traceback."""
from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.storage.store import Store, create_engine, session_id_for
from tests.bot.core.builders import (
    CLIENT,
    MEETING,
    THERAPIST,
    at,
    ended,
    joined,
    started,
)
from tests.conftest import PRIVACY_TOML, SECRET, TOKEN_A, storage_keys

ROOT = Path(__file__).parent.parent.parent


def write_config(tmp_path: Path, db: Path, secret: str = SECRET) -> Path:
    path = tmp_path / "companion.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite+aiosqlite:///{db}"\n[zoom]\nwebhook_secret_token = "{secret}"\n'
        f'{PRIVACY_TOML}'
        f'[[therapists]]\nid = "t1"\nname = "A"\napi_token = "{TOKEN_A}"\nzoom_user_id = "HOST"\ntimezone = "Europe/London"\n',
        encoding="utf-8",
    )
    return path


def test_check_config_accepts_a_valid_file(tmp_path, capsys):
    assert main(["check-config", "--config", str(write_config(tmp_path, tmp_path / "x.db"))]) == 0
    assert "settings are valid" in capsys.readouterr().out


def test_check_config_names_each_bad_key_and_exits_2(tmp_path):
    config = write_config(tmp_path, tmp_path / "x.db", secret="")
    config.write_text(config.read_text().replace('timezone = "Europe/London"', 'timezone = "Nowhere/Else"'))
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", "--config", str(config)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "[zoom] webhook_secret_token is missing" in result.stderr
    assert "'Nowhere/Else' is not a known time zone" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_config_file_exits_2(tmp_path, capsys):
    assert main(["serve", "--config", str(tmp_path / "none.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["summary"])
    assert caught.value.code == 2


async def _stored_meeting(db: Path, note: str = "") -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    store = Store(engine, storage_keys())
    await store.upgrade()
    events = [started(), joined(1, THERAPIST), joined(5, CLIENT), ended(600)]
    await store.record_events("t1", MEETING, [(f"k{n}", e) for n, e in enumerate(events)], at(600))
    if note:
        await store.add_note(session_id_for("zoom", MEETING.occurrence_id), at(300), note, None)
    await store.close()
    await engine.dispose()


@pytest.mark.parametrize("fmt, expected", [("json", '"duration_seconds": 600'), ("md", "## Participants"), ("html", "<h2>Timeline</h2>")])
async def test_summary_prints_a_stored_session(tmp_path, fmt, expected):
    db = tmp_path / "c.db"
    await _stored_meeting(db)
    config = write_config(tmp_path, db)
    sid = session_id_for("zoom", MEETING.occurrence_id)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "summary", sid, "--config", str(config), "--format", fmt],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    if fmt == "json":
        assert json.loads(result.stdout)["session_id"] == sid


def test_summary_of_an_unknown_session_exits_2(tmp_path, capsys):
    config = str(write_config(tmp_path, tmp_path / "x.db"))
    assert main(["migrate", "--config", config]) == 0
    assert main(["summary", "s-none", "--config", config]) == 2
    assert "no session 's-none'" in capsys.readouterr().err


def test_serve_on_a_port_in_use_says_so_and_exits_1(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, tmp_path / "x.db")
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "serve", "--config", str(config), "--port", str(port)],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 1
    assert f"companion: cannot listen on 127.0.0.1:{port}: the port is in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_summary_when_the_database_does_not_answer_says_so_and_exits_1(tmp_path):
    config = write_config(tmp_path, tmp_path / "x.db")
    config.write_text(config.read_text().replace(f'sqlite+aiosqlite:///{tmp_path / "x.db"}', "postgresql+asyncpg://postgres@127.0.0.1:1/none"))
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "summary", "s1", "--config", str(config)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "companion: summary failed" in result.stderr and "Traceback" not in result.stderr


def test_summary_as_pdf_needs_out_and_exits_2_without_it(tmp_path, capsys):
    config = write_config(tmp_path, tmp_path / "x.db")
    assert main(["summary", "s1", "--config", str(config), "--format", "pdf"]) == 2
    assert "--format pdf needs --out FILE" in capsys.readouterr().err


def test_summary_as_pdf_is_written_to_out_and_nothing_to_the_terminal(tmp_path, capsys):
    db = tmp_path / "c.db"
    asyncio.run(_stored_meeting(db))
    out = tmp_path / "summary.pdf"
    sid = session_id_for("zoom", MEETING.occurrence_id)
    assert main(["summary", sid, "--config", str(write_config(tmp_path, db)), "--format", "pdf", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF-")
    assert capsys.readouterr().out == ""


def test_summary_as_text_can_go_to_out_too_and_only_its_owner_may_read_it(tmp_path):
    db = tmp_path / "c.db"
    asyncio.run(_stored_meeting(db))
    out = tmp_path / "summary.md"
    out.write_text("an older summary")
    out.chmod(0o644)
    sid = session_id_for("zoom", MEETING.occurrence_id)
    assert main(["summary", sid, "--config", str(write_config(tmp_path, db)), "--format", "md", "--out", str(out)]) == 0
    assert "## Participants" in out.read_text(encoding="utf-8")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_summary_to_an_out_that_cannot_be_written_says_so_and_exits_1(tmp_path, capsys):
    db = tmp_path / "c.db"
    asyncio.run(_stored_meeting(db))
    sid = session_id_for("zoom", MEETING.occurrence_id)
    out = tmp_path / "no-such-folder" / "summary.pdf"
    assert main(["summary", sid, "--config", str(write_config(tmp_path, db)), "--format", "pdf", "--out", str(out)]) == 1
    assert "companion: summary failed: No such file or directory" in capsys.readouterr().err
