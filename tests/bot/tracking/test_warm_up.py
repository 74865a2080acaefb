"""Tests of bot/tracking/warm_up.py: sessions judged together read each kind of row once, and judge as each would alone."""
from __future__ import annotations

from datetime import timedelta

from bot.storage import group_reads
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
        if h.engine.dialect.name == "sqlite":  # their rows, then the rest in one trip to the connection's thread (test_group_reads.py)
            assert [len([s for s in reads if s.startswith(head)]) for head in (SESSION_ROWS, EVENTS, NOTICES, TICKS, DUE_WORK)] == [1, 0, 0, 0, 0]
        else:
            assert [len([s for s in reads if s.startswith(head)]) for head in (SESSION_ROWS, EVENTS, NOTICES, TICKS)] == [1, 1, 1, 1]
            assert len([s for s in reads if s.startswith(DUE_WORK)]) == 2  # its pending timers, its reminders
        # None reads alone what the group read for it (its ticks, appointment, timers and notices: the timekeeper's too).
        assert not [s for s in reads if s.startswith(THE_REST)]
        assert all([(await outcome(h, session_id))[0] for session_id in together])  # each raised its notices


async def test_a_group_whose_reads_fail_is_judged_with_each_sessions_own_reads(make_settings, storage_url, monkeypatch):
    async with Harness(make_settings(storage_url), Clock(T0 + timedelta(minutes=20))) as h:
        alone, *together = await live_with_the_camera_off(h)
        await h.tracker.evaluate(alone)

        def broken(*args):
            raise OSError("the database went away for a moment")

        monkeypatch.setattr(group_reads, "_notice_ids_of", broken)  # once the group's events are read, on either path
        monkeypatch.setitem(warm_up.READ_TOGETHER_FROM, h.engine.dialect.name, len(together))  # read together, not as a small group
        with Statements(h.engine) as sent:
            assert await h.tracker.evaluate_many(together) == set(together)
        group_read = 1 if h.engine.dialect.name == "postgresql" else 0  # on SQLite made on the connection's thread
        assert heads(sent).count(EVENTS) == group_read + len(together)  # the group's read, then each session's own
        assert heads(sent).count(THE_REST) == len(together)
        expected = await outcome(h, alone)
        assert [await outcome(h, session_id) for session_id in together] == [expected] * len(together)


async def test_a_group_too_small_to_gain_is_read_as_each_session_alone_in_two_statements_each(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock(T0 + timedelta(minutes=20))) as h:
        ids = await live_with_the_camera_off(h)
        small = warm_up.READ_TOGETHER_FROM[h.engine.dialect.name] - 1  # PostgreSQL's three: six round trips alone, as many as together
        assert await h.tracker.evaluate_many(ids) == set(ids)  # their folds kept
        for n in range(1, small + 1):
            with Statements(h.engine) as sent:
                assert await h.tracker.evaluate_many(ids[:n]) == set(ids[:n])
            assert heads(sent) == READS * n  # each its row with its new events, then the rest of what it reads
        with Statements(h.engine) as sent:  # one more: read together
            assert await h.tracker.evaluate_many(ids[:small + 1]) == set(ids[:small + 1])
        assert heads(sent).count(SESSION_ROWS) == 1 and THE_REST not in heads(sent)
