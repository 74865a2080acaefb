"""What judging a live session costs in statements (bot/tracking/tracker.py `evaluate`, with the service's hooks): counted, not timed."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from bot.tracking.session_listing import SessionListing
from tests.bot.timekeeping.harness import CLIENT, MEETING, SESSION, T0, THERAPIST, Clock, Harness, joined, started, video
from tests.statements import Statements

SESSION_ROW, NEW_EVENTS = "SELECT sessions.id, sessions.platform,", "SELECT events.id, events.key,"
TICKS_AND_APPOINTMENT, NOTICES, PENDING_TIMERS = "SELECT due_work.id, due_work.key,", "SELECT notices.key, notices.id", "SELECT due_work.id, due_work.key,"
READS = [SESSION_ROW, NEW_EVENTS, TICKS_AND_APPOINTMENT, NOTICES]


def heads(sent: list[str]) -> list[str]:
    return [s.replace('"', "") for s in sent]


async def test_a_camera_event_is_judged_in_five_reads_and_a_write_for_each_thing_it_changes(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock(T0 + timedelta(seconds=30))) as h:
        h.tracker.after_evaluation.append(SessionListing(h.tracker).keep)  # as the service runs it: the list's entry too
        await h.happen(started(T0), joined(THERAPIST, T0), joined(CLIENT, T0 + timedelta(seconds=30)))
        for n in range(2):
            at = h.clock.advance(seconds=60)
            await h.tracker.record(MEETING, [(f"camera:{n}", video(n % 2 == 1, at))])
            with Statements(h.engine) as sent:
                await h.tracker.evaluate(SESSION)
            if n % 2 == 0:  # off: its check planned
                assert heads(sent) == [*READS, PENDING_TIMERS, "INSERT INTO due_work"]
            else:  # on after a minute: the alert raised, the camera's prompt waiting for late events (asked when they
                # settle: a timer planned), and the check cancelled: written together once everything is read
                raised, heard = "INSERT INTO notices", "SELECT max(events.received_at) AS"
                assert heads(sent) == [*READS, heard, PENDING_TIMERS, raised, "UPDATE due_work SET", "INSERT INTO due_work"]
        taken: list[object] = []
        event.listen(h.engine.sync_engine, "checkout", lambda dbapi, record, proxy: taken.append(record))
        with Statements(h.engine) as sent:
            await h.tracker.evaluate(SESSION)  # nothing new: nothing written
        assert heads(sent) == [*READS, heard, PENDING_TIMERS]
        assert len(taken) == 3  # the judging's four reads share one connection
