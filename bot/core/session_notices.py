"""Decide a session's start reminder and summary notice, each worded once, from what late events cannot change."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from .due_work import NOTICE_SETTLE, DueWork, notice_settle_key
from .record import ChecklistItem
from .reminders import (
    START_REMINDER,
    SUMMARY_READY,
    start_reminder_message,
    summary_ready_message,
)
from .session import MeetingState

# A meeting's webhooks reach us in any order, moments apart. A notice that needs a fact not heard
# yet (who the client is, when the meeting started) waits for it, but only until the deliveries
# have been quiet this long: then it goes out with what is known.
SETTLE = timedelta(seconds=60)


@dataclass(frozen=True)
class SessionNotice:
    """A notice about the session as a whole; `key` raises it once."""

    kind: str
    key: str
    at: datetime
    message: str


@dataclass(frozen=True)
class SessionNotices:
    """The session's notices due now, and the kinds of those waiting for its deliveries to settle."""

    due: tuple[SessionNotice, ...] = ()
    waiting: tuple[str, ...] = ()


def settled(last_heard: datetime | None, now: datetime) -> bool:
    """Return whether the meeting's deliveries have been quiet for SETTLE by `now`."""
    return last_heard is None or now >= last_heard + SETTLE


def session_notices(
    session_id: str, state: MeetingState, code: str | None, checklist: Sequence[ChecklistItem], quiet: bool
) -> SessionNotices:
    """Return the start reminder and summary notice the session has earned, or which of them wait.

    A notice is worded once, so each waits until what it says cannot change with a late event, or
    until the deliveries are `quiet`: the start reminder for the start event and the client's code
    (which also tailors the checklist), the summary notice for the client's code. Points confirmed
    after the start still count as open in the start reminder: it says how the session began.
    """
    due: list[SessionNotice] = []
    waiting: list[str] = []
    if state.started_at is not None:
        if (state.start_reported and code is not None) or quiet:
            started = state.started_at
            open_points = [i for i in checklist if i.confirmed_at is None or i.confirmed_at > started]
            if open_points:
                message = start_reminder_message(code, len(open_points), len(checklist))
                due.append(SessionNotice(START_REMINDER, f"{START_REMINDER}:{session_id}", started, message))
        else:
            waiting.append(START_REMINDER)
    if state.ended_at is not None:
        if code is not None or quiet:
            message = summary_ready_message(code, state.closed_by_watchdog)
            due.append(SessionNotice(SUMMARY_READY, f"{SUMMARY_READY}:{session_id}", state.ended_at, message))
        else:
            waiting.append(SUMMARY_READY)
    return SessionNotices(tuple(due), tuple(waiting))


def settle_timers(session_id: str, therapist_id: str, notices: SessionNotices, last_heard: datetime | None) -> list[DueWork]:
    """Return the wake-ups that raise the waiting notices once the deliveries have been quiet for SETTLE."""
    if last_heard is None:
        return []
    due = last_heard + SETTLE
    return [DueWork(notice_settle_key(session_id, kind), NOTICE_SETTLE, due, therapist_id, session_id) for kind in notices.waiting]
