"""One leader runs the due work (bot/timekeeping/leadership.py): two instances on one PostgreSQL database, one leads; the
other writes rows only and the leader hears of them; when the leader's link is lost the other takes over and catches up."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg2

from bot.core import events as ev
from bot.core.due_work import CHECKLIST_REMINDER, FIRED, DueRow
from bot.storage.store import session_id_for
from bot.timekeeping.leadership import LEADER_LOCK
from bot.web import keys
from bot.web.app import create_app
from integrations.zoom.scripted.webhooks import ScriptedMeeting
from tests.conftest import PG_ADMIN_DSN, THERAPIST_A_HOST, TOKEN_A, signed_headers

FAILOVER = 2  # seconds: a follower tries for the lead every 0.67 s
A = {"Authorization": f"Bearer {TOKEN_A}"}


async def until(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.02)


async def two_instances(aiohttp_client: Any, make_settings: Any, postgres_url: str) -> tuple[Any, Any]:
    # No periodic reconcile (sync_interval_minutes 0): whatever the leader plans, it heard of by NOTIFY or planned itself.
    settings = make_settings(postgres_url, cluster={"failover_seconds": FAILOVER}, reminders={"sync_interval_minutes": 0, "lead_minutes": 1})
    return await aiohttp_client(create_app(settings)), await aiohttp_client(create_app(settings))


async def post(client: Any, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    response = await client.post("/webhooks/zoom", data=raw, headers=signed_headers(raw))
    assert response.status == 200, await response.text()
    await client.app[keys.EVALUATION].drain()


async def plan_meeting(client: Any, within: float) -> DueRow:
    """Have Zoom tell `client` of a meeting whose reminder (a minute ahead) is due in `within` seconds, or a second more."""
    start = (datetime.now(timezone.utc) + timedelta(minutes=1, seconds=within + 1)).replace(microsecond=0)
    created = {
        "id": 85746065432, "uuid": "plan==", "host_id": THERAPIST_A_HOST, "topic": "Weekly", "type": 2,
        "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "duration": 50,
    }
    await post(client, {"event": "meeting.created", "event_ts": 1, "payload": {"account_id": "acc", "object": created}})
    (row,) = await client.app[keys.TIMEKEEPER].due.pending(kind=CHECKLIST_REMINDER)
    return row


async def reminders(client: Any) -> list[dict[str, Any]]:
    return await (await client.get("/api/notices", params={"kind": CHECKLIST_REMINDER}, headers=A)).json()


async def says_it_leads(client: Any) -> bool:
    ready = await (await client.get("/readyz")).json()
    scraped = await (await client.get("/metrics")).text()
    assert f"companion_leader {float(ready['leader'])}" in scraped
    return ready["leader"]


def database_of(postgres_url: str) -> str:
    return postgres_url.rsplit("/", 1)[1]


def admin(statement: str, *values: Any) -> list[tuple[Any, ...]]:
    connection = psycopg2.connect(PG_ADMIN_DSN)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement, values)
            return cursor.fetchall()
    finally:
        connection.close()


def leader_backend(database: str) -> int:
    (pid,) = admin(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = %s)", database,
    )
    return pid[0]


async def test_of_two_instances_one_leads_and_wakes_what_a_webhook_on_the_other_planned_once_at_its_time(aiohttp_client, make_settings, postgres_url):
    first, second = await two_instances(aiohttp_client, make_settings, postgres_url)
    assert [await says_it_leads(first), await says_it_leads(second)] == [True, False]
    assert (await second.get("/readyz")).status == 200  # a follower serves webhooks and pages: ready, its scheduler standing by

    row = await plan_meeting(second, within=2)  # the follower writes the row only
    await until(lambda: row.id in first.app[keys.SCHEDULER].planned(), 2)  # heard at once (no periodic reconcile runs)
    assert second.app[keys.SCHEDULER].planned() == {}
    # A session's timers planned by a judging on the follower too.
    meeting = ScriptedMeeting(datetime.now(timezone.utc), "85746065432", "occ+1==", THERAPIST_A_HOST)
    meeting.started(0)
    await post(second, meeting.steps[0][1])
    timers = await second.app[keys.TIMEKEEPER].due.pending(session_id=session_id_for("zoom", meeting.uuid))
    assert timers
    await until(lambda: all(t.id in first.app[keys.SCHEDULER].planned() for t in timers), 2)

    await until(lambda: first.app[keys.SCHEDULER].planned().get(row.id) is None, 5)  # woken at its time
    await asyncio.sleep(0.5)
    assert len(await reminders(first)) == len(await reminders(second)) == 1
    assert (await first.app[keys.TIMEKEEPER].due.get(row.id)).outcome == FIRED


def hold_the_lead_once_free(database: str, waiting: threading.Event, release: threading.Event) -> None:
    """Queue for the leader's lock (no later try takes it first), hold it once granted, until told to let go."""
    holder = psycopg2.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={database}")
    holder.autocommit = True
    try:
        with holder.cursor() as cursor:
            waiting.set()
            cursor.execute("SELECT pg_advisory_lock(%s)", (LEADER_LOCK,))
            release.wait(30)
    finally:
        holder.close()


async def test_once_the_leaders_link_is_lost_the_other_leads_within_failover_seconds_and_fires_what_came_due_in_the_gap_once(
    aiohttp_client, make_settings, postgres_url, monkeypatch
):
    first, second = await two_instances(aiohttp_client, make_settings, postgres_url)
    assert first.app[keys.LEADERSHIP].leader and not second.app[keys.LEADERSHIP].leader
    row = await plan_meeting(second, within=1.5)
    await until(lambda: row.id in first.app[keys.SCHEDULER].planned(), 2)

    # The gap: the leader loses the database for good (its link cut, and never opened again), and until the reminder
    # is overdue the lock is held in the test, queued first for it, so that the other cannot take it before.
    database = database_of(postgres_url)
    waiting, release = threading.Event(), threading.Event()
    holding = asyncio.create_task(asyncio.to_thread(hold_the_lead_once_free, database, waiting, release))

    async def refused() -> None:
        raise OSError("the database is out of reach")

    monkeypatch.setattr(first.app[keys.CLUSTER], "_open", refused)
    await asyncio.to_thread(waiting.wait, 5)
    await asyncio.sleep(0.3)  # queued on the lock
    pid = leader_backend(database)
    admin("SELECT pg_terminate_backend(%s)", pid)
    await until(lambda: not first.app[keys.LEADERSHIP].leader, 2)
    assert first.app[keys.SCHEDULER].planned() == {}  # it stopped waking anything at once
    await until(lambda: datetime.now(timezone.utc) > row.work.due_at + timedelta(seconds=0.5), 5)
    assert (await second.app[keys.TIMEKEEPER].due.get(row.id)).pending  # due, and no one woke it
    assert not second.app[keys.LEADERSHIP].leader

    release.set()
    await holding
    freed = time.monotonic()
    await until(lambda: second.app[keys.LEADERSHIP].leader, FAILOVER)
    assert time.monotonic() - freed < FAILOVER
    for _ in range(100):  # caught up as it took the lead
        if not (await second.app[keys.TIMEKEEPER].due.get(row.id)).pending:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    assert (await second.app[keys.TIMEKEEPER].due.get(row.id)).outcome == FIRED
    assert len(await reminders(second)) == 1
    assert await says_it_leads(second) and not await says_it_leads(first)


async def test_an_instance_taking_the_lead_judges_what_the_last_leader_stored_and_never_judged(aiohttp_client, make_settings, postgres_url, monkeypatch):
    first, second = await two_instances(aiohttp_client, make_settings, postgres_url)
    assert first.app[keys.LEADERSHIP].leader
    # The leader acknowledged a meeting's start and died before judging it: stored, with no timer planned.
    meeting = ev.MeetingRef("zoom", "unjudged==", "85746065432", THERAPIST_A_HOST)
    now = datetime.now(timezone.utc)
    await first.app[keys.TRACKER].record(meeting, [("start", ev.MeetingStarted(meeting=meeting, at=now))])
    session_id = session_id_for("zoom", "unjudged==")
    assert await second.app[keys.TIMEKEEPER].due.pending(session_id=session_id) == []

    async def refused() -> None:
        raise OSError("the database is out of reach")

    monkeypatch.setattr(first.app[keys.CLUSTER], "_open", refused)
    admin("SELECT pg_terminate_backend(%s)", leader_backend(database_of(postgres_url)))
    await until(lambda: second.app[keys.LEADERSHIP].leader, FAILOVER + 2)
    for _ in range(100):  # judged as it took the lead: the session's watchdog is planned
        if await second.app[keys.TIMEKEEPER].due.pending(session_id=session_id):
            break
        await asyncio.sleep(0.05)
    assert await second.app[keys.TIMEKEEPER].due.pending(session_id=session_id)


async def test_the_leader_judges_what_a_gone_instance_stored_and_never_judged(aiohttp_client, make_settings, postgres_url, monkeypatch):
    first, second = await two_instances(aiohttp_client, make_settings, postgres_url)
    assert first.app[keys.LEADERSHIP].leader and not second.app[keys.LEADERSHIP].leader
    # The follower acknowledged a meeting's start and died before judging it: stored, with no timer planned.
    meeting = ev.MeetingRef("zoom", "left-unjudged==", "85746065432", THERAPIST_A_HOST)
    await second.app[keys.TRACKER].record(meeting, [("start", ev.MeetingStarted(meeting=meeting, at=datetime.now(timezone.utc)))])
    session_id = session_id_for("zoom", "left-unjudged==")
    assert await first.app[keys.TIMEKEEPER].due.pending(session_id=session_id) == []

    async def refused() -> None:
        raise OSError("the database is out of reach")

    await until(lambda: second.app[keys.INSTANCE] in first.app[keys.LEADERSHIP].instances_seen, FAILOVER)
    monkeypatch.setattr(second.app[keys.CLUSTER], "_open", refused)
    (pid,) = [row[0] for row in admin(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
        database_of(postgres_url), f"companion:{second.app[keys.INSTANCE]}",
    )]
    admin("SELECT pg_terminate_backend(%s)", pid)
    for _ in range(100):  # within failover_seconds / 3 the leader sees the link gone, and judges the recent sessions
        if await first.app[keys.TIMEKEEPER].due.pending(session_id=session_id):
            break
        await asyncio.sleep(0.05)
    assert await first.app[keys.TIMEKEEPER].due.pending(session_id=session_id)
    assert first.app[keys.LEADERSHIP].leader
