"""Due work overdue at a start, caught up together (Timekeeper.catch_up): each session judged once, each notice raised once."""
from __future__ import annotations

from datetime import timedelta

from bot.core.due_work import CHECKLIST_REMINDER, FIRED, VIDEO_OFF_CHECK
from bot.core.reminders import Appointment
from bot.timekeeping.timekeeper import Timekeeper

from .harness import CLIENT, SESSION, T0, THERAPIST, Clock, Harness, joined, started, video


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


async def down_with_overdue_work(h: Harness) -> list[int]:
    """A live session whose client's camera went off, and a reminder; then the service is down past both: return the overdue rows."""
    h.clock.now = at(100)
    await h.happen(started(T0), joined(THERAPIST, T0), joined(CLIENT, at(30)), video(False, at(100)))
    await h.keeper.keep_reminders("t1", "zoom", [Appointment("zoom", "999", "t1", at(900), 50)])
    h.clock.now = at(700)  # past the video-off check (160) and the reminder (300)
    overdue = h.schedule.due(h.clock())
    assert sorted(r.work.kind for r in await h.due.pending() if r.id in overdue) == [CHECKLIST_REMINDER, VIDEO_OFF_CHECK]
    return overdue


def judging_keeper(h: Harness, judged: list[list[str]], failing: bool = False) -> Timekeeper:
    """The harness's timekeeper, judging through a queue that counts (or fails) what it is asked to judge."""

    async def judge(session_ids: list[str]) -> set[str]:
        judged.append(session_ids)
        if failing:
            return set()
        for session_id in session_ids:
            await h.tracker.evaluate(session_id)
        return set(session_ids)

    keeper = Timekeeper(h.tracker, h.due, h.schedule, judge=judge)
    h.tracker.after_evaluation[h.tracker.after_evaluation.index(h.keeper.after_evaluation)] = keeper.after_evaluation
    return keeper


async def test_overdue_reminders_and_checks_are_carried_out_together_each_session_judged_once(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock()) as h:
        overdue = await down_with_overdue_work(h)
        judged: list[list[str]] = []
        keeper = judging_keeper(h, judged)
        await keeper.catch_up(overdue)
        assert judged == [[SESSION]]
        done = {row_id: await h.due.get(row_id) for row_id in overdue}
        assert all(row is not None and row.outcome == FIRED for row in done.values())
        (reminder,) = await h.notices(CHECKLIST_REMINDER)
        assert reminder.message.startswith("Session with")
        alerts = await h.notices("client_video_off")
        assert alerts and alerts[0].at.startswith("2026-11-20T10:02:40")
        await keeper.catch_up(overdue)  # again (a second start before anything changed): nothing new
        assert judged == [[SESSION]]
        assert len(await h.notices("client_video_off")) == len(alerts)
        assert len(await h.notices(CHECKLIST_REMINDER)) == 1


async def test_a_session_whose_judging_fails_keeps_its_checks_pending_for_the_next_start(make_settings, sqlite_url):
    async with Harness(make_settings(sqlite_url), Clock()) as h:
        overdue = await down_with_overdue_work(h)
        judged: list[list[str]] = []
        keeper = judging_keeper(h, judged, failing=True)
        await keeper.catch_up(overdue)
        assert judged == [[SESSION]]
        pending = {r.id: r.work.kind for r in await h.due.pending()}
        assert [pending.get(row_id) for row_id in overdue].count(VIDEO_OFF_CHECK) == 1  # still pending, as a failed fire leaves it
        assert [pending.get(row_id) for row_id in overdue].count(CHECKLIST_REMINDER) == 0
        assert await h.notices("client_video_off") == [] and len(await h.notices(CHECKLIST_REMINDER)) == 1
