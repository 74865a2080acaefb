"""Measure a restart with many live sessions: time to `/healthz` 200, and until every overdue timer has run.

Run from the repository root:  python bench/restart.py [--sessions 500] [--runs 3] [--storage-url URL]
Each run stores `--sessions` live meetings twenty minutes old (therapist and client in the room, the
client's camera off for nineteen minutes, the next meeting's checklist reminder due five minutes ago)
with their due work, as a stopped service would have left them, then starts a real `companion serve`
on that database and watches it catch up (every overdue row done, read from the database).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench.databases import emptied  # noqa: E402
from bot.config.settings_file import load_settings  # noqa: E402
from bot.config.starter import new_key  # noqa: E402
from bot.core import events as ev  # noqa: E402
from bot.core.reminders import Appointment  # noqa: E402
from bot.core.timefmt import to_stamp  # noqa: E402
from bot.storage.at_rest import AtRest  # noqa: E402
from bot.storage.due_store import DueStore  # noqa: E402
from bot.storage.store import Store, create_engine, session_id_for  # noqa: E402
from bot.timekeeping.timekeeper import Timekeeper  # noqa: E402
from bot.tracking.notice_board import NoticeBoard  # noqa: E402
from bot.tracking.tracker import SessionTracker  # noqa: E402
from tests.conftest import free_port  # noqa: E402

HOST = "BenchHost0000000000000"
AGE = timedelta(minutes=20)  # how long the meetings have run when the service comes back


class NoSchedule:
    """The stopped service's schedule: the rows are all that is left of it."""

    def add(self, row: object) -> None:
        pass

    def remove(self, row_id: int) -> None:
        pass

    def keep_only(self, pending: object) -> None:
        pass


def write_config(folder: Path, storage_url: str, port: int, sessions: int) -> Path:
    path = folder / "companion.toml"
    clients = "".join(f'[[clients]]\ncode = "C-{n}"\ntherapist = "t1"\nzoom_meeting_ids = ["{90000000000 + n}"]\n' for n in range(sessions))
    path.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n[storage]\nurl = "{storage_url}"\n'
        f'[privacy]\ndata_key = "{new_key()}"\nnotes_keys = ["{new_key()}"]\n'
        f'[zoom]\nwebhook_secret_token = "bench-webhook-secret-Jw5Rk1Vd8Qx3Mb6"\n[reminders]\nsync_interval_minutes = 0\n'
        f'[[therapists]]\nid = "t1"\nname = "Bench"\napi_token = "bench-token-of-the-therapist-Hc4Tz9Lp2Ws7"\nzoom_user_id = "{HOST}"\n'
        + clients,
        encoding="utf-8",
    )
    return path


async def store_sessions(config: Path, sessions: int, begun: datetime) -> int:
    """Store the live meetings and plan their due work as the service did while it ran; return the pending rows."""
    settings = load_settings(config)
    clock_now = [begun]
    engine = create_engine(settings.storage.url)
    store = Store(engine, AtRest.from_settings(settings.privacy), settings.channels_for)
    await store.upgrade()
    tracker = SessionTracker(settings, store, NoticeBoard(store), lambda: clock_now[0])
    keeper = Timekeeper(tracker, DueStore(store), NoSchedule())
    tracker.after_evaluation.append(keeper.after_evaluation)
    for n in range(sessions):
        meeting = ev.MeetingRef("zoom", f"BenchUuid{n:04d}==", str(90000000000 + n), HOST)
        therapist = ev.ParticipantRef(user_id="1001", stable_id=f"t-{n}", account_id=HOST, name="Bench Therapist")
        client = ev.ParticipantRef(user_id="1002", stable_id=f"c-{n}", name="Bench Client")
        happened = [
            ev.MeetingStarted(meeting=meeting, at=begun, scheduled_start=begun.strftime("%Y-%m-%dT%H:%M:%SZ"), scheduled_minutes=50),
            ev.ParticipantJoined(meeting=meeting, at=begun + timedelta(seconds=10), participant=therapist),
            ev.ParticipantJoined(meeting=meeting, at=begun + timedelta(seconds=20), participant=client),
            ev.VideoStateChanged(meeting=meeting, at=begun + timedelta(minutes=1), participant=client, on=False),
        ]
        clock_now[0] = begun + timedelta(minutes=1)
        await tracker.record(meeting, [(f"bench:{n}:{i}", e) for i, e in enumerate(happened)])
        await tracker.evaluate(session_id_for("zoom", meeting.occurrence_id))
    # Each client's next meeting starts five minutes after the restart: its checklist reminder is overdue.
    following = begun + AGE + timedelta(minutes=5)
    await keeper.keep_reminders("t1", "zoom", [Appointment("zoom", str(90000000000 + n), "t1", following, 50) for n in range(sessions)])
    pending = len(await keeper.due.pending())
    await store.close()
    await engine.dispose()
    return pending


async def overdue_left(storage_url: str, by: datetime) -> tuple[int, int]:
    """Return (pending rows due by `by`, notices raised)."""
    engine = create_engine(storage_url)
    try:
        async with engine.connect() as conn:
            left = (await conn.execute(text("SELECT count(*) FROM due_work WHERE done_at IS NULL AND due_at <= :by"), {"by": to_stamp(by)})).scalar()
            notices = (await conn.execute(text("SELECT count(*) FROM notices"))).scalar()
    finally:
        await engine.dispose()
    return int(left or 0), int(notices or 0)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


async def one_run(sessions: int, storage_url: str | None) -> tuple[float, float, int, int]:
    """Store the sessions, start `companion serve` on them; return (s to /healthz, s to all overdue work run, rows, notices)."""
    folder = Path(tempfile.mkdtemp(prefix="restart-bench-"))
    port = free_port()
    url = storage_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    config = write_config(folder, url, port, sessions)
    rows = await store_sessions(config, sessions, datetime.now(timezone.utc) - AGE)
    log = (folder / "serve.log").open("w")
    restarted = datetime.now(timezone.utc)
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--config", str(config)], cwd=ROOT, stdout=log, stderr=log,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        while not healthy(port):
            assert server.poll() is None, (folder / "serve.log").read_text()
            assert time.perf_counter() - started < 120, "no /healthz within 120 s"
            time.sleep(0.01)
        to_health = time.perf_counter() - started
        while (found := await overdue_left(url, restarted))[0]:
            assert time.perf_counter() - started < 300, f"{found[0]} overdue rows still pending after 300 s"
            await asyncio.sleep(0.05)
        return to_health, time.perf_counter() - started, rows, found[1]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


async def run(sessions: int, runs: int, storage_url: str | None) -> None:
    health, done = [], []
    for n in range(runs):
        if storage_url:  # the same database for every run: start from an empty one
            await emptied(storage_url)
        to_health, to_done, rows, notices = await one_run(sessions, storage_url)
        health.append(to_health)
        done.append(to_done)
        print(f"  run {n + 1}: {rows} pending rows; /healthz 200 after {to_health:.2f} s; all overdue work run after {to_done:.2f} s ({notices} notices in all)")
    backend = (storage_url or "sqlite").split(":")[0].split("+")[0]
    print(f"restart with {sessions} live sessions, storage {backend}, medians of {runs}: "
          f"/healthz {statistics.median(health):.2f} s, all overdue work {statistics.median(done):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--storage-url", default=None, help="default: a temporary SQLite file; a PostgreSQL database is emptied first")
    args = parser.parse_args()
    asyncio.run(run(args.sessions, args.runs, args.storage_url))


if __name__ == "__main__":
    main()
