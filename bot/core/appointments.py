"""The therapist's planned meetings, so the pre-call checklist can be ticked before the call starts."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.storage.due_store import DueStore

from .due_work import CANCELLED, CHECKLIST_REMINDER, DueRow
from .timefmt import from_iso

# A session belongs to the appointment of its meeting planned nearest its start, within this window.
EARLY_START = timedelta(hours=1)
LATE_START = timedelta(hours=3)


@dataclass(frozen=True)
class Appointment:
    """One planned occurrence of a meeting, known from its checklist reminder."""

    id: str
    therapist_id: str
    platform: str
    meeting_id: str
    start: datetime
    minutes: int


def appointment_id_for(reminder_key: str) -> str:
    """Return the stable id of the appointment a checklist reminder was planned for."""
    return "a" + hashlib.sha256(reminder_key.encode()).hexdigest()[:20]


def _appointment(row: DueRow) -> Appointment:
    data = row.work.data
    return Appointment(
        appointment_id_for(row.work.key),
        row.work.therapist_id,
        str(data["platform"]),
        str(data["meeting_id"]),
        from_iso(str(data["start"])),
        int(data.get("minutes") or 0),
    )


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
        found = [_appointment(r) for r in rows if r.outcome != CANCELLED]
        return sorted((a for a in found if a.start + LATE_START >= now), key=lambda a: a.start)

    async def get(self, therapist_id: str, appointment_id: str) -> Appointment | None:
        """Return one of the therapist's appointments, or None (another's is None too)."""
        rows = await self._due.rows(CHECKLIST_REMINDER, therapist_id=therapist_id)
        return next((_appointment(r) for r in rows if appointment_id_for(r.work.key) == appointment_id), None)

    async def for_session(self, therapist_id: str, platform: str, meeting_id: str, started: datetime | None) -> Appointment | None:
        """Return the appointment a session fulfils: same meeting, planned nearest its start."""
        if not meeting_id or started is None:
            return None
        window = (started - LATE_START - self._horizon, started + EARLY_START)
        rows = await self._due.rows(CHECKLIST_REMINDER, therapist_id, *window)
        near = [
            a
            for a in map(_appointment, rows)
            if a.platform == platform and a.meeting_id == meeting_id and a.start - EARLY_START <= started <= a.start + LATE_START
        ]
        return min(near, key=lambda a: abs((a.start - started).total_seconds()), default=None)
