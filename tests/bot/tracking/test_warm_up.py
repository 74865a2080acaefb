"""Tests of bot/tracking/warm_up.py: sessions judged together read each kind of row once, and judge as each would alone."""
from __future__ import annotations

from datetime import timedelta

from bot.storage.group_reads import GroupReads
from bot.tracking import warm_up
from tests.bot.timekeeping.harness import T0, Clock, Harness
from tests.bot.tracking.test_tracker_statements import READS, THE_REST, heads, live_with_the_camera_off, outcome
from tests.statements import Statements

SESSION_ROWS, EVENTS, NOTICES = "SELECT sessions.id, sessions.platform,", "SELECT events.id, events.key,", "SELECT notices."
TICKS, DUE_WORK = "SELECT checklist_ticks.", "SELECT due_work."  # the due work: its pending timers, its reminders


async def test_sessions_judged_together_read_their_rows_events_and_notices_once_for_all(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock(T0 + timedelta(minutes=20))) as h:
        together = await live_with_the_camera_off(h)
        with Statements(h.engine) as sent:
            assert await h.tracker.evaluate_many(together) == set(together)
        reads = heads(sent)
        assert [len([s for s in reads if s.startswith(head)]) for head in (SESSION_ROWS, EVENTS, NOTICES, TICKS)] == [1, 1, 1, 1]
        # None reads alone what the group read for it (its ticks, appointment, timers and notices: the timekeeper's too).
        assert not [s for s in reads if s.startswith(THE_REST)] and len([s for s in reads if s.startswith(DUE_WORK)]) == 2
        assert all([(await outcome(h, session_id))[0] for session_id in together])  # each raised its notices


async def test_a_group_whose_reads_fail_is_judged_with_each_sessions_own_reads(make_settings, storage_url, monkeypatch):
    async with Harness(make_settings(storage_url), Clock(T0 + timedelta(minutes=20))) as h:
        alone, *together = await live_with_the_camera_off(h)
        await h.tracker.evaluate(alone)

        async def broken(*args):
            raise OSError("the database went away for a moment")

        monkeypatch.setattr(GroupReads, "notice_ids", broken)
        monkeypatch.setattr(warm_up, "READ_TOGETHER_FROM", len(together))  # read together, not as a small group
        with Statements(h.engine) as sent:
            assert await h.tracker.evaluate_many(together) == set(together)
        assert heads(sent).count(EVENTS) == 1 + len(together)  # the group's read, then each session's own
        expected = await outcome(h, alone)
        assert [await outcome(h, session_id) for session_id in together] == [expected] * len(together)


async def test_a_group_too_small_to_gain_is_read_as_each_session_alone_in_two_statements_each(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock(T0 + timedelta(minutes=20))) as h:
        sessions = (await live_with_the_camera_off(h))[:3]  # six statements alone, as many as together: alone is faster
        assert await h.tracker.evaluate_many(sessions) == set(sessions)  # their folds kept
        with Statements(h.engine) as sent:
            assert await h.tracker.evaluate_many(sessions) == set(sessions)
        assert heads(sent) == READS * len(sessions)  # each its row with its new events, then the rest of what it reads
