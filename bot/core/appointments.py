"""The therapist's planned meetings, so the pre-call checklist can be ticked before the call starts."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from .due_work import DueRow
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


def appointment_from_row(row: DueRow) -> Appointment:
    """Return the appointment a checklist reminder row was planned for."""
    data = row.work.data
    return Appointment(
        appointment_id_for(row.work.key),
        row.work.therapist_id,
        str(data["platform"]),
        str(data["meeting_id"]),
        from_iso(str(data["start"])),
        int(data.get("minutes") or 0),
    )
