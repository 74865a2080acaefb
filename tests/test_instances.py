"""Several `companion serve` processes on one PostgreSQL database behave as one service, through kill -9 of the leader and
of the RTMS stream's owner: every alert and reminder raised exactly once, the stream resumed elsewhere, the summary
right, and every open notice stream given every notice exactly once, in order."""
from __future__ import annotations

import asyncio
import functools
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

import psycopg2

from bot.storage.session_ids import session_id_for
from integrations.zoom.rtms import protocol as rtms
from integrations.zoom.scripted.rtms_server import RtmsScriptServer, ScriptedStream
from integrations.zoom.scripted.webhooks import ScriptedMeeting, ScriptedPerson
from tests.conftest import THERAPIST_A_HOST
from tests.fakes.instances import FAILOVER_SECONDS, Instances, NoticeReader
from tests.fakes.rtms_server import RTMS_CLIENT_ID, RTMS_SECRET, followed_session, jpeg

ALERT_SECONDS = 3  # [alerts] video_off_alert_seconds
SETTINGS = (
    "[reminders]\nlead_minutes = 1\nsync_interval_minutes = 0\n"  # no periodic reconcile: failover alone must fire the timers
    f"[alerts]\nvideo_off_alert_seconds = {ALERT_SECONDS}\nvideo_off_repeat_seconds = 3600\n"
)
MEETING_ID = "85746065432"  # client C-17's
UUID = "c1usterSess10n0000000A=="
STREAM_ID = "c1u5t3r5e55100000000000000000c01"
SESSION = session_id_for("zoom", UUID)
THERAPIST = ScriptedPerson("16778240", "Dr Ruth Therapist", "A1B2C3D4-0000-4000-8000-0000000000C1", account_id=THERAPIST_A_HOST)
CLIENT = ScriptedPerson("16779264", "Sam Client", "C1C2C3C4-0000-4000-8000-0000000000C2")
# Two meetings planned for later: their checklist reminders fall due before and after the kills.
PLANNED = (("81111111111", 8), ("82222222222", 28))  # (meeting id, seconds until its reminder)


def now_ms() -> int:
    return int(time.time() * 1000)


async def eventually(check: Callable[[], Awaitable[Any]], seconds: float, what: str, instances: Instances) -> Any:
    """Return `check()`'s first true answer, polling; fail with every instance's log after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answer := await check():
            return answer
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}\n{instances.logs()[-20000:]}")


def stored_notices(database: str) -> list[tuple[int, str, str]]:
    with psycopg2.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={database}") as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT id, kind, key FROM notices WHERE therapist_id = 't1' ORDER BY id")
        return list(cursor.fetchall())


def planned_meeting(meeting_id: str, reminder_in: int) -> dict[str, Any]:
    """A meeting.created delivery for a meeting whose reminder (lead 1 min) falls due in `reminder_in` seconds."""
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=60 + reminder_in)
    meeting = ScriptedMeeting(start, meeting_id, f"p{meeting_id}==", THERAPIST_A_HOST)
    meeting.created(0)
    body = meeting.steps[0][1]
    body["event_ts"] = now_ms()  # sent now, about a meeting later
    return body


async def camera(stream: ScriptedStream, on: bool) -> None:
    sent = await stream.send_event(rtms.PARTICIPANT_VIDEO_ON if on else rtms.PARTICIPANT_VIDEO_OFF, now_ms(), int(CLIENT.user_id), CLIENT.name)
    assert sent, "the stream did not take the camera event"


async def off_intervals(instances: Instances) -> list[dict[str, Any]]:
    summary = await instances.api(min(instances.alive), f"/api/sessions/{SESSION}/summary")
    return list(summary["client_video"]["off_intervals"])


async def run_scenario(instances: Instances, database: str, victims: Callable[[int, int], set[int]]) -> None:
    """Play a session across the instances; `victims(leader, owner)` says which instances are killed mid-session."""
    rtms_server = RtmsScriptServer(RTMS_CLIENT_ID, RTMS_SECRET, keep_alive_seconds=1.0)
    await rtms_server.start()
    readers: list[NoticeReader] = []
    try:
        await instances.start()
        await eventually(lambda: _one_leader(instances), FAILOVER_SECONDS + 10, "one leader among the instances", instances)
        readers = [await instances.reader(n) for n in sorted(instances.alive)]
        for meeting_id, reminder_in in PLANNED:
            await instances.post(planned_meeting(meeting_id, reminder_in))

        # The session: started a minute ago, therapist and client in, RTMS following the client.
        meeting = ScriptedMeeting(datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1), MEETING_ID, UUID, THERAPIST_A_HOST)
        stream = await followed_session(rtms_server, meeting, STREAM_ID, THERAPIST, CLIENT, instances.post, timeout=20)
        owners = await eventually(instances.stream_owners, 10, "an instance says it owns the stream", instances)
        assert len(owners) == 1, f"one owner for one stream, not {owners}"

        # First interval, all instances up: one alert.
        await camera(stream, False)
        await eventually(lambda: _alerts(database, 1), ALERT_SECONDS + 10, "the first video-off alert", instances)
        await camera(stream, True)
        await eventually(lambda: _closed(instances, 1), 10, "the first interval closed", instances)

        # Second interval: the camera goes off, then the leader and the stream's owner are killed before its alert
        # is due; while they are gone the camera comes back on, an event no one receives.
        await camera(stream, False)
        await eventually(lambda: _open_interval(instances), 10, "the second interval stored", instances)
        [leader] = await instances.leaders()
        handshakes = stream.handshakes
        killed = victims(leader, owners[0])
        for n in killed:
            instances.kill(n)
        await asyncio.sleep(1.0)
        stream.turn_camera(int(CLIENT.user_id), True)
        # Another instance leads within the failover time and raises the alert that fell due meanwhile, once.
        await eventually(lambda: _one_leader(instances), FAILOVER_SECONDS + 10, "a new leader", instances)
        await eventually(lambda: _alerts(database, 2), FAILOVER_SECONDS + ALERT_SECONDS + 10, "the second alert, from the new leader", instances)
        if owners[0] in killed:  # another instance takes the stream and connects again
            await stream.wait_for(lambda s: s.handshakes > handshakes and s.ready, timeout=FAILOVER_SECONDS + 20)
            await eventually(instances.stream_owners, 10, "a surviving instance owns the stream", instances)
        await stream.wait_for(lambda s: s.following == int(CLIENT.user_id), timeout=20)
        frame = jpeg()  # the client's frames prove the camera on
        for _ in range(100):
            await stream.send_frame(frame, now_ms())
            if await _closed(instances, 2):
                break
            await asyncio.sleep(0.1)
        await eventually(lambda: _closed(instances, 2), 5, "the second interval closed by the new owner's frames", instances)

        # Third interval on the new owner and the new leader.
        await camera(stream, False)
        await eventually(lambda: _alerts(database, 3), ALERT_SECONDS + 10, "the third video-off alert", instances)
        await camera(stream, True)
        await eventually(lambda: _closed(instances, 3), 10, "the third interval closed", instances)
        await eventually(lambda: _reminders(database, len(PLANNED)), 40, "both checklist reminders", instances)

        meeting.ended(120)
        await instances.post(meeting.steps[-1][1])
        await eventually(lambda: _kinds(database, "summary_ready", 1), 15, "summary_ready", instances)
        await asyncio.sleep(2.0)  # anything raised twice would be by now

        notices = stored_notices(database)
        kinds = [kind for _, kind, _ in notices]
        assert kinds.count("client_video_off") == 3, kinds
        assert kinds.count("checklist_reminder") == len(PLANNED), kinds
        assert kinds.count("summary_ready") == 1, kinds
        intervals = await off_intervals(instances)
        assert len(intervals) == 3 and all(i["end"] for i in intervals), intervals
        for n, reader in enumerate(readers):
            assert reader.ids == sorted(set(reader.ids)), f"instance {n}'s stream: a notice twice or out of order: {reader.ids}"
            if n in instances.alive:  # every notice, once each, in order (a prompt may still come: read again until equal)
                await eventually(functools.partial(_has_exactly, reader, database), 10, f"instance {n}'s stream has every notice", instances)
            else:  # its stream ended with it
                assert set(reader.ids) <= {notice_id for notice_id, _, _ in stored_notices(database)}
    finally:
        for reader in readers:
            await reader.close()
        instances.stop()
        await rtms_server.stop()


async def _one_leader(instances: Instances) -> bool:
    return len(await instances.leaders()) == 1


async def _alerts(database: str, count: int) -> bool:
    return await _kinds(database, "client_video_off", count)


async def _reminders(database: str, count: int) -> bool:
    return await _kinds(database, "checklist_reminder", count)


async def _kinds(database: str, kind: str, count: int) -> bool:
    found = [k for _, k, _ in await asyncio.to_thread(stored_notices, database)].count(kind)
    assert found <= count, f"{found} {kind} notices, more than the {count} earned"
    return found == count


async def _open_interval(instances: Instances) -> bool:
    intervals = await off_intervals(instances)
    return bool(intervals) and intervals[-1]["end"] is None


async def _closed(instances: Instances, count: int) -> bool:
    intervals = await off_intervals(instances)
    return len(intervals) == count and intervals[-1]["end"] is not None


async def _has_exactly(reader: NoticeReader, database: str) -> bool:
    return reader.ids == [notice_id for notice_id, _, _ in await asyncio.to_thread(stored_notices, database)]


async def test_three_instances_survive_kill_9_of_the_leader_and_the_stream_owner(tmp_path: Path, postgres_url: str) -> None:
    instances = Instances(tmp_path, postgres_url, 3, SETTINGS)
    await run_scenario(instances, postgres_url.rsplit("/", 1)[1], lambda leader, owner: {leader, owner})


async def test_two_instances_started_at_once_on_a_fresh_database(tmp_path: Path, postgres_url: str) -> None:
    # Both upgrade the empty schema, elect a leader and race for the stream at the same moment; then the leader dies.
    instances = Instances(tmp_path, postgres_url, 2, SETTINGS)
    await run_scenario(instances, postgres_url.rsplit("/", 1)[1], lambda leader, owner: {leader})
