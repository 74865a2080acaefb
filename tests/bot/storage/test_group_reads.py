"""Tests of bot/storage/group_reads.py: a group's reads answer as each session's own reads do."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from bot.core.appointments import appointment_id_for
from bot.core.due_work import CHECKLIST_REMINDER
from bot.core.reminders import Appointment
from bot.storage import schema
from bot.storage.group_reads import GroupReads
from bot.storage.session_clients import SessionClients
from bot.storage.ticks import TickStore
from tests.bot.timekeeping.harness import T0, Clock, Harness
from tests.bot.tracking.test_tracker_statements import MEETINGS, live_with_the_camera_off

MISSING = "s-no-such-session"


async def test_a_groups_reads_equal_each_sessions_own_with_a_row_that_cannot_be_read(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock(T0 + timedelta(minutes=20))) as h:
        judged, coded, broken, fresh = ids = await live_with_the_camera_off(h)
        await h.tracker.evaluate(judged)  # its notices raised and its timers planned
        clients = SessionClients(h.engine)
        await clients.keep("t1", {coded: "C-7"})
        async with h.engine.begin() as conn:  # a row no key opens (written by hand, or damaged): left out, never an error
            await conn.execute(update(schema.events).where(schema.events.c.key == f"{MEETINGS[2].meeting_id}:1").values(data="{not sealed"))
        reads = GroupReads(h.store)

        found = await reads.sessions([*ids, MISSING])
        assert set(found) == set(ids)
        assert found == {i: (await h.store.session(i), await clients.code(i)) for i in ids}
        rows = [row for row, _ in found.values()]

        first = await h.store.events_after(MEETINGS[0], 0)
        read_from = {row: (0, ()) for row in rows} | {found[judged][0]: (first[1].id, {first[2].key})}  # part folded already
        events = await reads.events_after(read_from)
        assert events == {row.id: await h.store.events_after(row.meeting, *read_from[row]) for row in rows}
        assert [e.event is None for e in events[broken]] == [False, True, False, False]
        assert [e.event is None for e in events[judged]] == [True, False]

        assert await reads.notice_ids(rows) == {row.id: await h.store.notice_ids(row.therapist_id, row.id) for row in rows}
        alone = {row.id: await h.due.session_due(CHECKLIST_REMINDER, row.therapist_id, None, row.id, evaluating=True) for row in rows}
        assert await reads.notice_ids(rows) == {row.id: alone[row.id].notice_ids for row in rows}  # as a judging's own read too
        assert len((await reads.notice_ids(rows))[judged]) >= 2 and not (await reads.notice_ids(rows))[fresh]

        pending = await reads.pending([*ids, MISSING])
        assert pending == {i: await h.due.pending(session_id=i) for i in [*ids, MISSING]}
        assert pending[judged] and not pending[fresh]
        assert {row.id: pending[row.id] for row in rows} == {row.id: alone[row.id].pending for row in rows}


async def test_a_groups_reminders_and_ticks_find_each_sessions_appointment_and_ticks_as_its_own_read(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock(T0 - timedelta(hours=2))) as h:
        ids = await live_with_the_camera_off(h)
        planned = [Appointment("zoom", m.meeting_id, "t1", T0 + timedelta(minutes=n), 50) for n, m in enumerate(MEETINGS[:3])]
        await h.keeper.keep_reminders("t1", "zoom", [*planned, Appointment("zoom", MEETINGS[0].meeting_id, "t1", T0 + timedelta(days=3))])
        reminders = await h.due.pending(kind=CHECKLIST_REMINDER)
        ticks = TickStore(h.engine)
        await ticks.tick(appointment_id_for(reminders[0].work.key), "consent", T0 - timedelta(hours=1))  # ticked before the call
        await ticks.tick(ids[1], "room", T0 + timedelta(minutes=5))
        reads, book = GroupReads(h.store), h.tracker.appointments
        rows = [(await reads.sessions(ids))[i][0] for i in ids]

        found, ticked = await reads.reminders(rows), await reads.ticks([*ids, *(appointment_id_for(r.work.key) for r in reminders)])
        for started in (T0, T0 + timedelta(days=3), None):
            for row in rows:
                appointment, alone = await book.for_session(row.id, row.therapist_id, row.platform, row.meeting_id, started)
                assert (book.nearest(found[row.id], row.platform, row.meeting_id, started) if started else None, ticked[row.id]) == (appointment, alone.ticks)
        assert [book.nearest(found[row.id], row.platform, row.meeting_id, T0) is not None for row in rows] == [True, True, True, False]
        for reminder in reminders:
            assert ticked[appointment_id_for(reminder.work.key)] == await ticks.ticks(appointment_id_for(reminder.work.key))
        assert ticked[ids[1]] and any(ticked.values())


async def test_all_a_groups_reads_at_once_answer_as_each_read_does_and_on_sqlite_in_one_trip(make_settings, storage_url, trips):
    async with Harness(make_settings(storage_url), Clock(T0 - timedelta(hours=2))) as h:
        ids = await live_with_the_camera_off(h)
        planned = [Appointment("zoom", m.meeting_id, "t1", T0 + timedelta(minutes=n), 50) for n, m in enumerate(MEETINGS[:3])]
        await h.keeper.keep_reminders("t1", "zoom", planned)
        await TickStore(h.engine).tick(appointment_id_for((await h.due.pending(kind=CHECKLIST_REMINDER))[0].work.key), "consent", T0)
        await TickStore(h.engine).tick(ids[1], "room", T0 + timedelta(minutes=5))
        h.clock.now = T0 + timedelta(minutes=20)
        await h.tracker.evaluate(ids[0])  # its notices raised and its timers planned
        reads = GroupReads(h.store)
        found = await reads.sessions(ids)
        rows = [found[i][0] for i in ids]
        first = await h.store.events_after(MEETINGS[0], 0)
        read_from = {row: (0, ()) for row in rows} | {rows[0]: (first[1].id, {first[2].key})}  # part folded already
        reminders = await reads.reminders(rows)
        appointments = sorted({appointment_id_for(r.work.key) for of_meeting in reminders.values() for r in of_meeting})
        assert appointments and all(reminders[i] for i in ids[:3])

        trips[0] = 0
        around = await reads.around(read_from, [*ids, MISSING])
        assert trips[0] == (1 if h.engine.dialect.name == "sqlite" else 0)
        assert around.events == await reads.events_after(read_from) and [len(around.events[i]) for i in ids] == [2, 4, 4, 4]
        assert around.notice_ids == await reads.notice_ids(rows) and around.notice_ids[ids[0]]
        assert around.pending == await reads.pending([*ids, MISSING]) and around.pending[ids[0]]
        assert around.reminders == reminders
        assert around.ticks == await reads.ticks([*ids, *appointments]) and around.ticks[ids[1]] and any(around.ticks[a] for a in appointments)
