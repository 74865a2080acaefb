"""Plan checklist reminders from meeting plans, and word the reminders and session notices."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

from .checklist import Checklist
from .due_work import CHECKLIST_REMINDER, DueRow, DueWork, NoticeSpec
from .events import Occurrence
from .settings import ClientProfile, ReminderSettings, Settings
from .timefmt import from_iso, to_iso

START_REMINDER = "start_reminder"
SUMMARY_READY = "summary_ready"


@dataclass(frozen=True)
class Appointment:
    """One planned occurrence of a therapist's meeting."""

    platform: str
    meeting_id: str
    therapist_id: str
    start: datetime
    minutes: int = 0

    @property
    def reminder_key(self) -> str:
        return reminder_key_prefix(self.platform, self.meeting_id) + self.start.strftime("%Y%m%dT%H%M%S")


def reminder_key_prefix(platform: str, meeting_id: str) -> str:
    """Return how the keys of a meeting's checklist reminders begin (the start follows)."""
    return f"{CHECKLIST_REMINDER}:{platform}:{meeting_id}:"


def appointments(platform: str, meeting_id: str, therapist_id: str, occurrences: Iterable[Occurrence]) -> list[Appointment]:
    """Return the appointments of a meeting's occurrences (those with an unreadable start are left out)."""
    found = []
    for occurrence in occurrences:
        try:
            start = from_iso(occurrence.start)
        except ValueError:
            continue
        found.append(Appointment(platform, meeting_id, therapist_id, start, occurrence.minutes))
    return found


def plan_reminders(planned: Iterable[Appointment], settings: ReminderSettings, now: datetime) -> list[DueWork]:
    """Return a reminder for each appointment still to start within the horizon (due at once if late)."""
    horizon = now + timedelta(hours=settings.horizon_hours)
    work = []
    for appt in planned:
        if not now < appt.start <= horizon:
            continue
        due = max(appt.start - timedelta(minutes=settings.lead_minutes), now)
        data = {"platform": appt.platform, "meeting_id": appt.meeting_id, "start": to_iso(appt.start), "minutes": appt.minutes}
        work.append(DueWork(appt.reminder_key, CHECKLIST_REMINDER, due, appt.therapist_id, None, data))
    return work


def profile_for_meeting(settings: Settings, therapist_id: str, meeting_id: str) -> ClientProfile | None:
    """Return the therapist's client profile that names this meeting id, if any."""
    return next((c for c in settings.clients if c.therapist == therapist_id and meeting_id in c.meeting_ids), None)


def client_words(code: str | None) -> str:
    """Return how a message names the client: the pseudonym code, never a name."""
    return code or "the client"


def reminder_notice(row: DueRow, settings: Settings, checklist: Checklist, now: datetime) -> NoticeSpec | None:
    """Return the checklist reminder for a due row, or None if the meeting is already over."""
    work = row.work
    start = from_iso(work.data["start"])
    if now >= start + timedelta(minutes=max(int(work.data.get("minutes") or 0), 1)):
        return None
    therapist = settings.therapist(work.therapist_id)
    zone = ZoneInfo(therapist.timezone if therapist else "UTC")
    profile = profile_for_meeting(settings, work.therapist_id, str(work.data["meeting_id"]))
    points = checklist.for_client(profile, str(work.data.get("platform") or "") or None)
    lines = [f"Session with {client_words(profile.code if profile else None)} at {start.astimezone(zone):%H:%M %Z}. Pre-call checklist:"]
    lines += [f"- {p.text}" for p in points]
    return NoticeSpec(work.therapist_id, None, CHECKLIST_REMINDER, work.key, work.due_at, "\n".join(lines))


def start_reminder_message(code: str | None, unconfirmed: int, total: int) -> str:
    """Return the start reminder: the session began with checklist points still open."""
    return f"The session with {client_words(code)} has started; {unconfirmed} of {total} checklist points are not confirmed."


def summary_ready_message(code: str | None, by_watchdog: bool) -> str:
    """Return the notice that a session's summary is ready."""
    how = " (closed by the watchdog: no end was reported)" if by_watchdog else ""
    return f"The summary of the session with {client_words(code)} is ready{how}."
