"""The purge, on SQLite and PostgreSQL: exactly the sessions that ended before the cut-off go, every row of them."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.core import events as ev
from bot.core.appointments import appointment_id_for
from bot.core.due_work import CHECKLIST_REMINDER, FIRED, DueWork
from bot.core.retention import cutoff
from bot.storage.due_store import DueStore
from bot.storage.retention import CHUNK, Retention
from bot.storage.ticks import TickStore
from tests.fakes.records import EVENTS_PER_SESSION, SESSION_TABLES, row_counts, store_session

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=timezone.utc)
LIMIT = cutoff(NOW, 365)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


async def test_the_purge_takes_exactly_the_sessions_that_ended_before_the_cut_off(store):
    gone = [
        await store_session(store, "old", days_ago(400), days_ago(400) + timedelta(hours=1)),
        await store_session(store, "closed", days_ago(380), days_ago(370), closed=True),  # the watchdog's close is its end
        await store_session(store, "edge", days_ago(366), LIMIT - timedelta(seconds=1)),
    ]
    kept = [
        await store_session(store, "recent", days_ago(30), days_ago(30) + timedelta(hours=1)),
        await store_session(store, "live", days_ago(500), None),  # never ended: never purged, however old
        await store_session(store, "just", days_ago(366), LIMIT + timedelta(seconds=1)),
    ]
    # A late end reported for a session the watchdog closed long ago: the reported end is its end.
    late = await store_session(store, "late", days_ago(500), days_ago(499), closed=True)
    await store.record_events("t1", late.meeting, [("late:reported-end", ev.MeetingEnded(late.meeting, days_ago(10)))], days_ago(10))
    kept.append(late)
    before = await row_counts(store.engine)

    dry = await Retention(store.engine).purge(LIMIT, NOW, dry_run=True)
    assert await row_counts(store.engine) == before  # a dry run deletes nothing
    removal = await Retention(store.engine).purge(LIMIT, NOW)
    assert removal is not None and dry is not None
    assert removal.session_ids == dry.session_ids == sorted(s.id for s in gone)
    expected = {table: len(gone) for table in SESSION_TABLES} | {"events": len(gone) * EVENTS_PER_SESSION}
    assert removal.counts == dry.counts == expected
    after = await row_counts(store.engine)
    assert after == before - removal.counts
    for session in kept:
        assert await store.session(session.id) is not None and len(await store.session_events(session.meeting)) >= 3
        assert len(await store.notes(session.id)) == 1
    for session in gone:
        assert await store.session(session.id) is None and await store.session_events(session.meeting) == []
    assert (await Retention(store.engine).purge(LIMIT, NOW)).counts == {}  # nothing is left to purge


async def test_the_purge_takes_old_rows_of_no_session_too(store):
    due = DueStore(store)
    stream = ev.MeetingRef("zoom", "stream-only==")
    await store.record_events(None, stream, [("s:1", ev.StreamStarted(stream, days_ago(400), stream_id="x"))], days_ago(400))
    fresh = ev.MeetingRef("zoom", "stream-fresh==")
    await store.record_events(None, fresh, [("s:2", ev.StreamStarted(fresh, days_ago(1), stream_id="y"))], days_ago(1))
    past, coming = (
        DueWork(f"{CHECKLIST_REMINDER}:zoom:85746065432:{n}", CHECKLIST_REMINDER, when, "t1", None,
                {"platform": "zoom", "meeting_id": "85746065432", "start": when.isoformat(), "minutes": 50})
        for n, when in (("old", days_ago(400)), ("new", NOW + timedelta(days=1)))
    )
    old_row = await due.put(past, days_ago(401))
    await due.finish(old_row.id, FIRED, days_ago(400))
    await store.raise_notice("t1", None, CHECKLIST_REMINDER, past.key, days_ago(400), "Session with C-17 soon.", days_ago(400))
    await TickStore(store.engine).tick(appointment_id_for(past.key), "dressed", days_ago(400))
    await due.put(coming, NOW)
    removal = await Retention(store.engine).purge(LIMIT, NOW)
    assert removal is not None and removal.session_ids == []
    assert removal.counts == {"events": 1, "due_work": 1, "notices": 1, "deliveries": 1, "checklist_ticks": 1}
    assert [r.work.key for r in await due.pending()] == [coming.key]
    assert await store.session_events(fresh) != []


async def test_many_sessions_are_purged_in_chunks(store, storage_url):
    if storage_url.startswith("postgresql"):
        pytest.skip("the chunking is the same on both; once is enough")
    for n in range(CHUNK + 3):
        await store_session(store, f"n{n}", days_ago(400), days_ago(400) + timedelta(hours=1), code=None)
    removal = await Retention(store.engine).purge(LIMIT, NOW)
    assert removal is not None and len(removal.session_ids) == CHUNK + 3
    assert removal.counts["events"] == (CHUNK + 3) * EVENTS_PER_SESSION
    assert (await row_counts(store.engine)).get("sessions", 0) == 0
