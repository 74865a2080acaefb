"""Due work on a controlled clock: video-off timers, reminders, watchdog, start and summary notices."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.core.client_form import client_from_form, vocabulary
from bot.core.due_work import (
    CHECKLIST_REMINDER,
    NOTICE_SETTLE,
    VIDEO_OFF_CHECK,
    WATCHDOG,
)
from bot.core.reminders import Appointment
from tests.conftest import DATA_KEY
from tests.statements import Statements

from .harness import (
    CLIENT,
    MEETING,
    SESSION,
    T0,
    THERAPIST,
    Clock,
    Harness,
    ended,
    joined,
    left,
    started,
    video,
)


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


async def live_session(h: Harness) -> None:
    h.clock.now = at(30)
    await h.happen(started(T0), joined(THERAPIST, T0), joined(CLIENT, at(30)))


async def kinds_pending(h: Harness) -> list[str]:
    return sorted(r.work.kind for r in await h.due.pending(session_id=SESSION))


async def test_video_off_alerts_fire_at_their_times_and_stop_when_video_returns(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock()) as h:
        await live_session(h)
        h.clock.now = at(100)
        await h.happen(video(False, at(100)))
        (timer,) = await h.due.pending(kind=VIDEO_OFF_CHECK)
        assert timer.work.due_at == at(160)
        h.clock.now = at(159)
        await h.run_due()
        assert await h.notices("client_video_off") == []
        h.clock.now = at(160)
        await h.run_due()
        (alert,) = await h.notices("client_video_off")
        assert alert.message == "The client's video has been off for 1 min." and alert.at.startswith("2026-11-20T10:02:40")
        (repeat,) = await h.due.pending(kind=VIDEO_OFF_CHECK)
        assert repeat.work.due_at == at(460)  # then every video_off_repeat_seconds
        h.clock.now = at(200)
        await h.happen(video(True, at(200)))
        # The video-off timer stops; the note prompt about the interval waits a minute for late events.
        assert await kinds_pending(h) == [NOTICE_SETTLE, WATCHDOG]
        assert sorted(h.schedule.jobs.values()) == sorted(r.work.due_at for r in await h.due.pending())


async def test_a_timer_that_came_due_while_down_fires_once_with_every_alert_due(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock()) as h:
        await live_session(h)
        h.clock.now = at(100)
        await h.happen(video(False, at(100)))
        h.clock.now = at(500)  # the service was down past the alert and its first repeat
        await h.run_due()
        await h.run_due()
        alerts = await h.notices("client_video_off")
        assert [n.at[:19] for n in alerts] == ["2026-11-20T10:02:40", "2026-11-20T10:07:40"]
        (nxt,) = await h.due.pending(kind=VIDEO_OFF_CHECK)
        assert nxt.work.due_at == at(760)


@pytest.mark.parametrize("stop", ["client_left", "meeting_ended"])
async def test_the_video_timer_is_cancelled_when_the_client_leaves_or_the_meeting_ends(make_settings, sqlite_url, stop):
    async with Harness(make_settings(sqlite_url), Clock()) as h:
        await live_session(h)
        h.clock.now = at(100)
        await h.happen(video(False, at(100)))
        h.clock.now = at(120)
        await h.happen(left(CLIENT, at(120)) if stop == "client_left" else ended(at(120)))
        assert VIDEO_OFF_CHECK not in await kinds_pending(h)
        h.clock.now = at(1000)
        await h.run_due()
        assert await h.notices("client_video_off") == []


async def test_the_start_reminder_names_the_open_checklist_points_once(make_settings, sqlite_url):
    async with Harness(make_settings(sqlite_url), Clock()) as h:
        await live_session(h)
        await h.happen(joined(CLIENT, at(40)))
        (notice,) = await h.notices("start_reminder")
        total = len(h.tracker.checklist_points.for_client(h.settings.clients[0], "zoom"))
        assert notice.message == f"The session with C-17 has started; {total} of {total} checklist points are not confirmed."


async def test_a_start_reminder_raised_before_is_not_written_again(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock()) as h:
        await live_session(h)
        assert len(await h.notices("start_reminder")) == 1
        h.clock.now = at(100)
        await h.tracker.record(MEETING, [("camera-off", video(False, at(100)))])
        with Statements(h.engine) as sent:
            await h.tracker.evaluate(SESSION)
        assert not [s for s in sent if s.startswith("INSERT INTO notices")]
        assert len(await h.notices("start_reminder")) == 1


async def test_no_start_reminder_when_the_checklist_was_confirmed_first(make_settings, sqlite_url):
    async with Harness(make_settings(sqlite_url), Clock()) as h:
        for point in h.tracker.checklist_points.for_client(h.settings.clients[0]):
            await h.tracker.ticks.tick(SESSION, point.id, T0)
        await live_session(h)
        assert await h.notices("start_reminder") == []


async def test_a_meeting_with_no_start_event_gets_the_start_reminder_once_its_deliveries_settle(make_settings, sqlite_url):
    async with Harness(make_settings(sqlite_url), Clock()) as h:
        h.clock.now = at(30)
        await h.happen(joined(THERAPIST, T0), joined(CLIENT, at(30)))
        assert await h.notices("start_reminder") == []  # the start event may still be on its way
        (wait,) = await h.due.pending(kind=NOTICE_SETTLE)
        assert wait.work.due_at == at(30 + 60)
        h.clock.now = at(90)
        await h.run_due()
        (notice,) = await h.notices("start_reminder")
        assert notice.at.startswith("2026-11-20T10:00:00") and "C-17" in notice.message
        assert await h.due.pending(kind=NOTICE_SETTLE) == [] and (await h.due.get(wait.id)).outcome == "fired"


async def test_a_start_event_that_comes_late_raises_the_start_reminder_timed_by_it(make_settings, sqlite_url):
    async with Harness(make_settings(sqlite_url), Clock()) as h:
        h.clock.now = at(30)
        await h.happen(joined(CLIENT, at(30)))
        h.clock.now = at(40)
        await h.happen(started(T0))
        (notice,) = await h.notices("start_reminder")
        assert notice.at.startswith("2026-11-20T10:00:00")
        assert await h.due.pending(kind=NOTICE_SETTLE) == []  # nothing waits any more


BY_NAME = [{"code": "C-17", "therapist": "t1", "mode": "online", "flags": ["minor_attracted"], "display_names": ["Client Person"]}]


async def test_notices_wait_for_a_client_known_by_name_and_then_name_them(make_settings, sqlite_url):
    async with Harness(make_settings(sqlite_url, clients=BY_NAME), Clock()) as h:
        h.clock.now = at(3000)
        await h.happen(started(T0), joined(THERAPIST, T0), ended(at(3000)))  # the client's join is late
        assert await h.notices() == []
        assert sorted(r.work.key.rsplit(":", 1)[1] for r in await h.due.pending(kind=NOTICE_SETTLE)) == ["start_reminder", "summary_ready"]
        h.clock.now = at(3010)
        await h.happen(joined(CLIENT, at(30)))
        assert [(n.kind, "C-17" in n.message) for n in await h.notices()] == [("start_reminder", True), ("summary_ready", True)]
        assert await h.due.pending(kind=NOTICE_SETTLE) == []


async def test_notices_about_a_client_never_identified_go_out_when_the_deliveries_settle(make_settings, sqlite_url):
    async with Harness(make_settings(sqlite_url, clients=BY_NAME), Clock()) as h:
        h.clock.now = at(3000)
        await h.happen(started(T0), joined(THERAPIST, T0), ended(at(3000)))
        h.clock.now = at(3050)
        await h.happen(left(THERAPIST, at(2990)))  # a late delivery: the wait starts again
        h.clock.now = at(3060)
        await h.run_due()
        assert await h.notices() == []
        h.clock.now = at(3110)
        await h.run_due()
        ready = await h.notices("summary_ready")
        assert [n.message for n in ready] == ["The summary of the session with the client is ready."]
        assert len(await h.notices("start_reminder")) == 1
        assert await h.due.pending() == []


async def test_the_watchdog_closes_a_session_without_an_end_and_a_late_end_corrects_it(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock()) as h:
        await live_session(h)
        h.clock.now = at(2400)
        await h.happen(left(CLIENT, at(2400)))
        (dog,) = await h.due.pending(kind=WATCHDOG)
        assert dog.work.due_at == T0 + timedelta(minutes=50 + 30)  # scheduled end + end_grace_minutes
        h.clock.now = dog.work.due_at
        await h.run_due()
        view = await h.tracker.view(await h.store.session(SESSION))
        assert view.summary["ended_at"] == "2026-11-20T11:20:00Z" and view.summary["closed_by_watchdog"]
        (ready,) = await h.notices("summary_ready")
        assert "closed by the watchdog" in ready.message
        assert await h.due.pending() == [] and h.schedule.jobs == {}
        assert (await h.due.get(dog.id)).outcome == "fired"

        h.clock.now = at(3600 * 3)
        await h.happen(ended(at(3000)))  # Zoom's retry of meeting.ended, hours late
        view = await h.tracker.view(await h.store.session(SESSION))
        assert view.summary["ended_at"] == "2026-11-20T10:50:00Z" and not view.summary["closed_by_watchdog"]
        assert len(await h.notices("summary_ready")) == 1


async def test_an_idle_session_is_closed_idle_minutes_after_its_last_event(make_settings, sqlite_url):
    async with Harness(make_settings(sqlite_url, watchdog={"idle_minutes": 20}), Clock()) as h:
        h.clock.now = at(30)
        await h.happen(joined(THERAPIST, T0), joined(CLIENT, at(30)))  # no meeting.started: no schedule known
        (dog,) = await h.due.pending(kind=WATCHDOG)
        assert dog.work.due_at == at(30 + 20 * 60)
        # An event stored without being judged yet: the watchdog waits for it rather than closing early.
        await h.tracker.record(started(T0).meeting, [("late", video(False, at(600)))])
        h.clock.now = dog.work.due_at
        await h.run_due()
        (moved,) = await h.due.pending(kind=WATCHDOG)
        assert moved.work.due_at == at(600 + 20 * 60) and await h.notices("summary_ready") == []


async def test_a_real_end_raises_summary_ready_and_stops_the_watchdog(make_settings, sqlite_url):
    async with Harness(make_settings(sqlite_url), Clock()) as h:
        await live_session(h)
        h.clock.now = at(3000)
        await h.happen(ended(at(3000)))
        assert await h.due.pending() == []
        (ready,) = await h.notices("summary_ready")
        assert ready.message == "The summary of the session with C-17 is ready." and ready.session_id == SESSION


def appointment(start_seconds: float, meeting_id: str = "85746065432", minutes: int = 50) -> Appointment:
    return Appointment("zoom", meeting_id, "t1", at(start_seconds), minutes)


async def test_a_checklist_reminder_fires_once_lead_minutes_before_with_the_tailored_checklist(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock()) as h:
        await h.keeper.keep_reminders("t1", "zoom", [appointment(7200)])
        (row,) = await h.due.pending(kind=CHECKLIST_REMINDER)
        assert row.work.due_at == at(7200 - 600)
        h.clock.now = row.work.due_at
        await asyncio.gather(h.keeper.fire(row.id), h.keeper.fire(row.id))
        await h.keeper.fire(row.id)
        (notice,) = await h.notices(CHECKLIST_REMINDER)
        assert notice.message.startswith("Session with C-17 at 12:00 GMT. Pre-call checklist:\n- ")
        assert "photos of your children" in notice.message and "pets" not in notice.message
        assert "Zoom shows everyone" in notice.message and "participant list" not in notice.message  # Zoom's own point


async def test_a_reminder_is_tailored_to_a_client_kept_in_the_database(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock()) as h:
        words = vocabulary(h.tracker.checklist_points)
        await h.tracker.clients.add(client_from_form({"code": "C-21", "flags": ["animals"], "meeting_ids": ["999"]}, words, "t1", DATA_KEY))
        await h.keeper.keep_reminders("t1", "zoom", [appointment(7200, "999")])
        h.clock.now = at(7200 - 600)
        await h.run_due()
        (notice,) = await h.notices(CHECKLIST_REMINDER)
        assert notice.message.startswith("Session with C-21 at 12:00 GMT.") and "pets" in notice.message
        assert "photos of your children" not in notice.message


async def test_reminders_follow_the_plan_moved_cancelled_and_beyond_the_horizon(make_settings, sqlite_url):
    async with Harness(make_settings(sqlite_url), Clock()) as h:
        await h.keeper.keep_reminders("t1", "zoom", [appointment(7200), appointment(3600 * 25, "999")])
        assert [r.work.data["start"] for r in await h.due.pending()] == ["2026-11-20T12:00:00Z"]
        await h.keeper.keep_reminders("t1", "zoom", [appointment(9000)])  # moved half an hour later
        (row,) = await h.due.pending()
        assert row.work.data["start"] == "2026-11-20T12:30:00Z" and list(h.schedule.jobs) == [row.id]
        await h.keeper.cancel_reminders("zoom", "85746065432", {"2026-11-20T12:30:00Z"})
        assert await h.due.pending() == [] and h.schedule.jobs == {}


async def test_a_reminder_planned_late_is_due_at_once_and_one_for_a_past_meeting_expires(make_settings, sqlite_url):
    async with Harness(make_settings(sqlite_url), Clock()) as h:
        await h.keeper.keep_reminders("t1", "zoom", [appointment(120)])  # starts in 2 min: remind now
        (row,) = await h.due.pending()
        assert row.work.due_at == T0
        h.clock.now = at(120 + 50 * 60)  # down until the meeting was over
        await h.run_due()
        assert await h.notices() == [] and (await h.due.get(row.id)).outcome == "expired"


async def test_restarting_reconciles_the_schedule_from_the_rows(make_settings, sqlite_url):
    async with Harness(make_settings(sqlite_url), Clock()) as h:
        await h.keeper.keep_reminders("t1", "zoom", [appointment(7200)])
        await live_session(h)
        pending = {r.id: r.work.due_at for r in await h.due.pending()}
        h.schedule.jobs = {999: T0}  # a job whose row is gone, and the real ones missing
        await h.keeper.reconcile()
        assert h.schedule.jobs == pending


async def test_judging_a_session_again_with_nothing_new_writes_no_timer(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock()) as h:
        await live_session(h)
        h.clock.now = at(100)
        await h.happen(video(False, at(100)))
        before = await h.due.pending(session_id=SESSION)
        with Statements(h.engine) as sent:
            await h.tracker.evaluate(SESSION)
        assert not [s for s in sent if s.startswith(("INSERT INTO due_work", "UPDATE due_work"))]
        assert await h.due.pending(session_id=SESSION) == before
        assert sorted(h.schedule.jobs.values()) == sorted(r.work.due_at for r in before)
        h.clock.now = at(130)
        await h.happen(video(True, at(130)))  # a timer that must move still does
        assert VIDEO_OFF_CHECK not in await kinds_pending(h)
