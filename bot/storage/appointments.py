"""Look the therapist's appointments up from the checklist reminder rows, where they are planned."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from bot.core.appointments import (
    EARLY_START,
    LATE_START,
    Appointment,
    appointment_from_row,
    appointment_id_for,
)
from bot.core.due_work import CANCELLED, CHECKLIST_REMINDER, DueRow
from bot.core.reminders import reminder_key_prefix

from .due_store import DueStore, SessionDue


class AppointmentBook:
    """Look appointments up from the due-work rows: they are planned there, and nowhere else."""

    def __init__(self, due: DueStore, horizon: timedelta) -> None:
        self._due = due
        # A reminder falls due before its start, and no earlier than the horizon before it: so only
        # rows due within a window around a time can belong to an appointment near that time.
        self._horizon = horizon

    async def upcoming(self, therapist_id: str, now: datetime) -> list[Appointment]:
        """Return the therapist's appointments that have not long started, soonest first."""
        since = now - LATE_START - self._horizon
        rows = await self._due.rows(CHECKLIST_REMINDER, therapist_id=therapist_id, due_from=since)
        found = [appointment_from_row(r) for r in rows if r.outcome != CANCELLED]
        return sorted((a for a in found if a.start + LATE_START >= now), key=lambda a: a.start)

    async def get(self, therapist_id: str, appointment_id: str) -> Appointment | None:
        """Return one of the therapist's appointments, or None (another's is None too)."""
        rows = await self._due.rows(CHECKLIST_REMINDER, therapist_id=therapist_id)
        return next((appointment_from_row(r) for r in rows if appointment_id_for(r.work.key) == appointment_id), None)

    async def for_session(
        self, session_id: str, therapist_id: str, platform: str, meeting_id: str, started: datetime | None, evaluating: bool = False
    ) -> tuple[Appointment | None, SessionDue]:
        """Return the appointment a session fulfils (same meeting, planned nearest its start) and what was read of the session
        with it: when each point of its own checklist was confirmed (with `evaluating`, its timers and notices too: see DueStore)."""
        if not meeting_id or started is None:  # no appointment to look for: the ticks alone
            return None, await self._due.session_due(CHECKLIST_REMINDER, therapist_id, None, session_id, evaluating=evaluating)
        # Only this meeting's reminders (their key names it): a therapist may have hundreds planned in the window.
        prefix = reminder_key_prefix(platform, meeting_id)
        due = await self._due.session_due(CHECKLIST_REMINDER, therapist_id, self.window(started), session_id, prefix, evaluating)
        return self.nearest(due.reminders, platform, meeting_id, started), due

    def window(self, started: datetime) -> tuple[datetime, datetime]:
        """Return the times within which the reminder of an appointment near `started` falls due."""
        return started - LATE_START - self._horizon, started + EARLY_START

    def nearest(self, rows: Iterable[DueRow], platform: str, meeting_id: str, started: datetime) -> Appointment | None:
        """Return the appointment of the meeting planned nearest `started` among reminder `rows` (None: none near it)."""
        due_from, due_to = self.window(started)
        near = [
            a
            for a in map(appointment_from_row, (r for r in rows if due_from <= r.work.due_at <= due_to))
            if a.platform == platform and a.meeting_id == meeting_id and a.start - EARLY_START <= started <= a.start + LATE_START
        ]
        return min(near, key=lambda a: abs((a.start - started).total_seconds()), default=None)
