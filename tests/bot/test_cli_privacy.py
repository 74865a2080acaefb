"""`companion purge`, `client export` and `client forget`: what goes, what is written (mode 0600), and counts only."""
from __future__ import annotations

import asyncio
import json
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.appointments import appointment_id_for
from bot.core.digests import email_digest, name_digest
from bot.core.due_work import CHECKLIST_REMINDER, DueWork
from bot.core.settings import DATABASE, ClientProfile
from bot.storage.client_profiles import ClientRecords
from bot.storage.due_store import DueStore
from bot.storage.store import create_engine
from bot.storage.ticks import TickStore
from tests.conftest import DATA_KEY, PRIVACY_TOML, SECRET, TOKEN_A, TOKEN_B
from tests.fakes.records import CLIENT_EMAIL, CLIENT_NAME, NOTE, every_row, row_counts, store_session, store_with_deliveries

NOW = datetime.now(timezone.utc)  # the commands run on the real clock
OTHER = {"client_name": "Mara Quist", "client_email": "mara@example.net", "note": "Calm throughout"}
DB_CLIENT = {"client_name": "Tobias Wren", "client_email": "t.wren@example.com", "note": "Spoke of his sister"}
REMINDER_KEY = f"{CHECKLIST_REMINDER}:zoom:85746065432:future"


def write_config(tmp_path: Path, url: str, retention_days: int = 365, second_c17: bool = False) -> Path:
    path = tmp_path / "companion.toml"
    text = (
        f'[storage]\nurl = "{url}"\n[zoom]\nwebhook_secret_token = "{SECRET}"\n'
        f"{PRIVACY_TOML}retention_days = {retention_days}\n"
        f'[[therapists]]\nid = "t1"\nname = "A"\napi_token = "{TOKEN_A}"\nzoom_user_id = "hTq3Wl8kR0yC5fG1nB7xZw"\ntimezone = "Europe/London"\n'
        f'[[therapists]]\nid = "t2"\nname = "B"\napi_token = "{TOKEN_B}"\nzoom_user_id = "bB0bB0bB0bB0bB0bB0bB0b"\n'
        '[[clients]]\ncode = "C-17"\ntherapist = "t1"\nzoom_meeting_ids = ["85746065432"]\n'
    )
    if second_c17:
        text += '[[clients]]\ncode = "C-17"\ntherapist = "t2"\nzoom_meeting_ids = ["888"]\n'
    path.write_text(text, encoding="utf-8")
    return path


async def _fill(url: str) -> dict[str, str]:
    """Store C-17's sessions (one a year and more old), another client's, and database client C-21's; return their ids."""
    engine = create_engine(url)
    store = store_with_deliveries(engine)
    await store.upgrade()
    day = timedelta(days=1)
    ids = {
        "c17_old": (await store_session(store, "a", NOW - 400 * day, NOW - 400 * day + timedelta(hours=1))).id,
        "c17_recent": (await store_session(store, "b", NOW - 3 * day, NOW - 3 * day + timedelta(hours=1))).id,
        "c17_live": (await store_session(store, "l", NOW - timedelta(minutes=20), None, code=None)).id,
        "other": (await store_session(store, "o", NOW - 2 * day, NOW - 2 * day + timedelta(hours=1), meeting_id="999", code=None, **OTHER)).id,
        "c21": (await store_session(store, "d", NOW - day, NOW - day + timedelta(hours=1), meeting_id="777", code=None, **DB_CLIENT)).id,
    }
    profile = ClientProfile(
        code="C-21", therapist="t1", linked_meeting_ids=("777",), email_digests=(email_digest(DB_CLIENT["client_email"], DATA_KEY),),
        name_digests=(name_digest(DB_CLIENT["client_name"], DATA_KEY),), source=DATABASE,
    )
    await ClientRecords(engine).add(profile, NOW)
    await ClientRecords(engine).link("t1", "555", "C-17")  # a meeting said to be C-17's on its appointment
    # C-17's next appointment: its reminder, the reminder's notice and a point ticked ahead of the call.
    start = NOW + timedelta(hours=2)
    data = {"platform": "zoom", "meeting_id": "85746065432", "start": start.isoformat(), "minutes": 50}
    await DueStore(store).put(DueWork(REMINDER_KEY, CHECKLIST_REMINDER, start - timedelta(minutes=10), "t1", None, data), NOW)
    await store.raise_notice("t1", None, CHECKLIST_REMINDER, REMINDER_KEY, NOW, "Session with C-17 at 10:00.", NOW)
    await TickStore(engine).tick(appointment_id_for(REMINDER_KEY), "dressed", NOW)
    await store.close()
    await engine.dispose()
    return ids


async def _rows(url: str) -> tuple[dict, dict]:
    engine = create_engine(url)
    try:
        return await every_row(engine), dict(await row_counts(engine))
    finally:
        await engine.dispose()


@pytest.fixture
def stored(tmp_path: Path, storage_url: str) -> tuple[Path, dict[str, str], str]:
    """The settings file, the ids of the sessions stored, and the database's URL: SQLite, then PostgreSQL."""
    return write_config(tmp_path, storage_url), asyncio.run(_fill(storage_url)), storage_url


def test_purge_dry_run_names_the_sessions_and_counts_and_deletes_nothing(stored, capsys):
    config, ids, db = stored
    _, before = asyncio.run(_rows(db))
    assert main(["purge", "--config", str(config), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete 1 session(s) that ended before" in out and f"  {ids['c17_old']}\n" in out
    assert "  events: 4\n" in out and "  notes: 1\n" in out and "  sessions: 1\n" in out
    assert not {ids[k] for k in ids if k != "c17_old"} & set(out.split())
    assert asyncio.run(_rows(db))[1] == before
    assert CLIENT_NAME not in out and NOTE not in out
    assert main(["purge", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("deleted 1 session(s) that ended before") and "  deliveries: 1\n" in out and ids["c17_old"] not in out
    after = asyncio.run(_rows(db))[1]
    assert before["sessions"] - after["sessions"] == 1 and before["events"] - after["events"] == 4


def test_export_writes_every_session_and_note_of_the_client_as_json_and_markdown_with_mode_0600(stored, capsys, tmp_path):
    config, ids, _ = stored
    out = tmp_path / "exports" / "c17.json"
    out.parent.mkdir()
    assert main(["client", "export", "C-17", "--config", str(config), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "exported 3 session(s) of client C-17" in said and str(out.with_suffix(".md")) in said
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["client_code"] == "C-17" and document["session_count"] == 3
    assert [s["session_id"] for s in document["sessions"]] == [ids["c17_old"], ids["c17_recent"], ids["c17_live"]]  # oldest first
    assert all(s["client_code"] == "C-17" and [n["text"] for n in s["notes"]] == [NOTE] for s in document["sessions"])
    markdown = out.with_suffix(".md").read_text(encoding="utf-8")
    assert markdown.startswith("# The record of client C-17") and markdown.count("\n## Session summary ") == 3
    assert markdown.count(NOTE) == 3 and OTHER["note"] not in markdown and DB_CLIENT["note"] not in markdown
    for path in (out, out.with_suffix(".md")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_export_replaces_a_file_that_others_could_read_and_takes_their_access_away(stored, tmp_path, capsys):
    config, _, db = stored
    out = tmp_path / "c21-export"
    out.write_text("old")
    out.chmod(0o644)
    assert main(["client", "export", "C-21", "--config", str(config), "--out", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and json.loads(out.read_text())["session_count"] == 1
    assert stat.S_IMODE(Path(f"{out}.md").stat().st_mode) == 0o600


def test_forget_leaves_no_row_that_mentions_the_client_and_says_counts_only(stored, capsys):
    config, ids, db = stored
    assert main(["client", "forget", "C-17", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("forgot client C-17 of therapist t1: 3 session(s); rows deleted by table:")
    assert "  sessions: 3\n" in out and "  client_meetings: 1\n" in out and "  checklist_ticks: 4\n" in out
    assert "the settings file still has client C-17" in out  # its profile there is the operator's to remove
    assert not {ids["c17_old"], ids["c17_recent"], ids["c17_live"]} & set(out.split())
    rows, counts = asyncio.run(_rows(db))
    text = json.dumps(rows, default=str)
    mentions = ["C-17", CLIENT_NAME, CLIENT_EMAIL, NOTE, REMINDER_KEY, appointment_id_for(REMINDER_KEY)]
    mentions += [ids["c17_old"], ids["c17_recent"], ids["c17_live"], "occ-a==", "occ-b==", "occ-l=="]
    mentions.append(email_digest(CLIENT_EMAIL, DATA_KEY))
    assert [m for m in mentions if m in text] == []
    for other in ("other", "c21"):  # everyone else's record is whole
        assert sum(r["id"] == ids[other] for r in rows["sessions"]) == 1
        assert sum(r["session_id"] == ids[other] for r in rows["notes"]) == 1
    assert counts["client_profiles"] == 1 and counts["events"] == 8


def test_forget_of_a_database_client_removes_its_profile_and_digests(stored, capsys):
    config, ids, db = stored
    assert main(["client", "forget", "C-21", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "forgot client C-21 of therapist t1: 1 session(s)" in out and "  client_profiles: 1\n" in out
    assert "settings file" not in out
    rows, _ = asyncio.run(_rows(db))
    text = json.dumps(rows, default=str)
    gone = ["C-21", ids["c21"], email_digest(DB_CLIENT["client_email"], DATA_KEY), name_digest(DB_CLIENT["client_name"], DATA_KEY), DB_CLIENT["note"]]
    assert [m for m in gone if m in text] == []
    assert main(["client", "export", "C-21", "--config", str(config), "--out", str(config.parent / "x.json")]) == 2  # now unknown


@pytest.mark.parametrize("command", [["export", "--out", "x.json"], ["forget"]])
def test_an_unknown_code_is_refused_with_exit_2(stored, capsys, command, tmp_path):
    config, _, db = stored
    _, before = asyncio.run(_rows(db))
    assert main(["client", command[0], "C-99", "--config", str(config), *command[1:]]) == 2
    assert "no client 'C-99'" in capsys.readouterr().err
    assert main(["client", command[0], "C-17", "--therapist", "t2", "--config", str(config), *command[1:]]) == 2
    assert "no client 'C-17' of therapist t2" in capsys.readouterr().err
    assert asyncio.run(_rows(db))[1] == before
    assert not (tmp_path / "x.json").exists()


def test_a_code_two_therapists_use_needs_the_therapist(tmp_path, capsys, sqlite_url):
    asyncio.run(_fill(sqlite_url))
    config = write_config(tmp_path, sqlite_url, second_c17=True)
    out = tmp_path / "c17.json"
    assert main(["client", "export", "C-17", "--config", str(config), "--out", str(out)]) == 2
    assert "client of t1, t2: say whose with --therapist" in capsys.readouterr().err
    assert main(["client", "export", "C-17", "--therapist", "t1", "--config", str(config), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["session_count"] == 3
