"""Plan a live session's timers from its state: the next video-off check and the watchdog."""
from __future__ import annotations

from datetime import datetime, timedelta

from .alerts import next_alert_due
from .due_work import VIDEO_OFF_CHECK, WATCHDOG, DueWork, video_off_key, watchdog_key
from .session import MeetingState
from .settings import Settings, WatchdogSettings
from .timefmt import from_iso


def scheduled_end(state: MeetingState) -> datetime | None:
    """Return when the session was planned to end, if its plan is known."""
    if not state.scheduled_start or not state.scheduled_minutes:
        return None
    try:
        return from_iso(state.scheduled_start) + timedelta(minutes=state.scheduled_minutes)
    except ValueError:
        return None


def close_due(state: MeetingState, settings: WatchdogSettings) -> datetime | None:
    """Return when the watchdog closes a session that has not ended, or None if there is nothing to close.

    It closes `idle_minutes` after the last event, or `end_grace_minutes` after the scheduled end;
    a session still reporting events after its scheduled end gets the grace after its last event.
    """
    if state.ended or state.last_event_at is None:
        return None
    due = state.last_event_at + timedelta(minutes=settings.idle_minutes)
    planned_end = scheduled_end(state)
    if planned_end is not None:
        due = min(due, max(planned_end, state.last_event_at) + timedelta(minutes=settings.end_grace_minutes))
    return due


def watchdog_wakes(state: MeetingState, settings: WatchdogSettings, last_heard: datetime | None) -> datetime | None:
    """Return when the watchdog acts: at the close time, but not while the service still hears from
    the meeting (late or replayed deliveries): a quiet spell of the shorter of idle and grace first."""
    close_at = close_due(state, settings)
    if close_at is None or last_heard is None:
        return close_at
    return max(close_at, last_heard + timedelta(minutes=min(settings.idle_minutes, settings.end_grace_minutes)))


def session_timers(
    session_id: str,
    therapist_id: str,
    state: MeetingState,
    settings: Settings,
    now: datetime,
    last_heard: datetime | None,
) -> list[DueWork]:
    """Return the timers the session needs from `now`: none once it has ended."""
    timers = []
    video_due = next_alert_due(state, settings.alerts, now)
    if video_due is not None:
        timers.append(DueWork(video_off_key(session_id, video_due), VIDEO_OFF_CHECK, video_due, therapist_id, session_id))
    wakes = watchdog_wakes(state, settings.watchdog, last_heard)
    if wakes is not None:
        timers.append(DueWork(watchdog_key(session_id), WATCHDOG, wakes, therapist_id, session_id))
    return timers
