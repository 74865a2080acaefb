"""A real `companion serve` killed with SIGKILL while reminders and a video-off timer are pending, or started on many overdue rows."""
from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp

from bot.config.settings_file import load_settings
from bot.core import events as ev
from bot.core.reminders import Appointment
from bot.storage.due_store import DueStore
from bot.storage.store import Store, create_engine
from bot.timekeeping.timekeeper import Timekeeper
from bot.tracking.notice_board import NoticeBoard
from bot.tracking.tracker import SessionTracker
from integrations.zoom.scripted.webhooks import ScriptedMeeting, ScriptedPerson
from tests.bot.timekeeping.harness import RecordingSchedule
from tests.conftest import PRIVACY_TOML, SECRET, THERAPIST_A_HOST, TOKEN_A, free_port, signed_headers, storage_keys
from tests.fakes.companion_process import CompanionProcess

ALERT_SECONDS, FIRST_LEAD, SECOND_LEAD = 3, 5, 14


def write_config(folder: Path, port: int) -> Path:
    path = folder / "companion.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
[storage]
url = "sqlite+aiosqlite:///{folder / 'companion.db'}"
{PRIVACY_TOML}[zoom]
webhook_secret_token = "{SECRET}"
[reminders]
lead_minutes = 1
sync_interval_minutes = 0
[alerts]
video_off_alert_seconds = {ALERT_SECONDS}
video_off_repeat_seconds = 3600
[[therapists]]
id = "t1"
name = "Therapist A"
api_token = "{TOKEN_A}"
zoom_user_id = "{THERAPIST_A_HOST}"
[[clients]]
code = "C-17"
therapist = "t1"
flags = ["animals"]
zoom_meeting_ids = ["85746065432"]
""",
        encoding="utf-8",
    )
    return path


async def post(port: int, body: dict) -> None:
    raw = json.dumps(body).encode()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"http://127.0.0.1:{port}/webhooks/zoom", data=raw, headers=signed_headers(raw)) as response:
            assert response.status == 200, await response.text()


def plan(meeting_id: int, start: datetime) -> dict:
    obj = {"id": meeting_id, "uuid": f"p{meeting_id}==", "host_id": THERAPIST_A_HOST, "type": 2,
           "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "duration": 50, "topic": "x"}
    return {"event": "meeting.created", "event_ts": int(time.time() * 1000), "payload": {"account_id": "A", "object": obj}}


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


async def wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_pending_jobs_fire_exactly_once_across_a_sigkill(tmp_path):
    port = free_port()
    db = tmp_path / "companion.db"
    server = CompanionProcess(write_config(tmp_path, port), port, tmp_path / "server.log")
    await server.start()
    try:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        # Two reminders: one comes due while the server is down, one after it is back.
        await post(port, plan(85746065432, now + timedelta(minutes=1, seconds=FIRST_LEAD)))
        await post(port, plan(555, now + timedelta(minutes=1, seconds=SECOND_LEAD)))
        meeting = ScriptedMeeting(now, "85746065432", "r3start==", THERAPIST_A_HOST)
        meeting.started(0)
        meeting.joined(0, ScriptedPerson("1", "Therapist", "P-T", account_id=THERAPIST_A_HOST))
        client = ScriptedPerson("2", "Client", "P-C")
        meeting.joined(0, client)
        for _, body in meeting.steps:
            await post(port, body)
        # The client's camera goes off (as RTMS would store it), and the next webhook has it judged.
        engine = create_engine(f"sqlite+aiosqlite:///{db}")
        off = ev.VideoStateChanged(meeting=ev.MeetingRef("zoom", meeting.uuid), at=now, participant=ev.ParticipantRef(user_id="2", stable_id="P-C"), on=False)
        await Store(engine, storage_keys()).record_events(None, off.meeting, [("rtms:off", off)], now)
        await engine.dispose()
        meeting.steps.clear()
        meeting._add(1, "recording.started", meeting._object())
        await post(port, meeting.steps[0][1])

        pending = "SELECT kind FROM due_work WHERE done_at IS NULL AND kind != 'watchdog' ORDER BY kind"
        await wait_until(lambda: rows(db, pending) == [("checklist_reminder",), ("checklist_reminder",), ("video_off_check",)])
        server.kill()
        assert rows(db, "SELECT kind FROM notices WHERE kind IN ('client_video_off', 'checklist_reminder')") == []

        await asyncio.sleep(max(0.0, (now + timedelta(seconds=FIRST_LEAD + 1) - datetime.now(timezone.utc)).total_seconds()))
        restarted_at = datetime.now(timezone.utc)
        await server.start()
        ready_at = datetime.now(timezone.utc)  # a busy machine may take seconds to import and start: "at once" counts from ready
        fired = "SELECT kind, at, raised_at FROM notices WHERE kind IN ('client_video_off', 'checklist_reminder') ORDER BY id"
        await wait_until(lambda: len(rows(db, fired)) >= 3)
        server.kill()  # and once more, after everything fired: nothing may fire again
        await server.start()
        await asyncio.sleep(1.0)
        got = rows(db, fired)
        assert [kind for kind, _, _ in got].count("client_video_off") == 1
        assert [kind for kind, _, _ in got].count("checklist_reminder") == 2
        by_due = {at[:19]: datetime.fromisoformat(raised.replace("Z", "+00:00")) for _, at, raised in got}
        overdue = [now + timedelta(seconds=ALERT_SECONDS), now + timedelta(seconds=FIRST_LEAD)]
        for due in overdue:  # came due while down: raised at once on start
            raised = by_due[due.strftime("%Y-%m-%dT%H:%M:%S")]
            assert restarted_at <= raised <= ready_at + timedelta(seconds=5)
        second_due = now + timedelta(seconds=SECOND_LEAD)
        assert by_due[second_due.strftime("%Y-%m-%dT%H:%M:%S")] >= second_due  # at its time, not before
        (repeat,) = rows(db, "SELECT kind, due_at FROM due_work WHERE done_at IS NULL AND kind != 'watchdog'")
        assert repeat[0] == "video_off_check" and repeat[1].startswith((now + timedelta(seconds=ALERT_SECONDS + 3600)).strftime("%Y-%m-%dT%H:%M:%S"))
        message = next(m for (m,) in rows(db, "SELECT message FROM notices WHERE kind = 'checklist_reminder'") if "C-17" in m)
        assert "Keep pets out of the room" in message
    finally:
        if server.process and server.process.poll() is None:
            server.kill()


async def test_a_restart_with_many_overdue_rows_runs_each_once_and_keeps_no_job_store(tmp_path):
    port, db = free_port(), tmp_path / "companion.db"
    config = write_config(tmp_path, port)
    now = datetime.now(timezone.utc)
    settings = load_settings(config)
    engine = create_engine(settings.storage.url)
    store = Store(engine, storage_keys())
    await store.upgrade()
    # Planned by a service that stopped ten minutes ago: 150 meetings that began five minutes ago, whose
    # reminders (a minute before each) came due while it was down.
    tracker = SessionTracker(settings, store, NoticeBoard(store), lambda: now - timedelta(minutes=10))
    keeper = Timekeeper(tracker, DueStore(store), RecordingSchedule())
    await keeper.keep_reminders("t1", "zoom", [Appointment("zoom", str(100 + n), "t1", now - timedelta(minutes=5), 50) for n in range(150)])
    await store.close()
    await engine.dispose()
    assert rows(db, "SELECT count(*) FROM due_work WHERE done_at IS NULL") == [(150,)]

    server = CompanionProcess(config, port, tmp_path / "server.log")
    await server.start()
    try:
        await wait_until(lambda: rows(db, "SELECT count(*) FROM due_work WHERE done_at IS NULL") == [(0,)])
        server.kill()
        await server.start()  # and again: nothing fires twice
        await asyncio.sleep(1.0)
        assert rows(db, "SELECT outcome, count(*) FROM due_work WHERE kind = 'checklist_reminder' GROUP BY outcome") == [("fired", 150)]
        assert rows(db, "SELECT count(*), count(DISTINCT key) FROM notices WHERE kind = 'checklist_reminder'") == [(150, 150)]
        assert sorted(path.name for path in tmp_path.glob("companion*.db")) == ["companion.db"]  # no job store of its own
    finally:
        if server.process and server.process.poll() is None:
            server.kill()
