"""Read Teams meetings from a therapist's calendar view: each occurrence's start, length and meeting key."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.events import Occurrence
from bot.core.join_urls import join_url_key
from bot.core.timefmt import to_iso

TEAMS_PROVIDER = "teamsForBusiness"
# Ask for times in UTC (Graph otherwise answers in the mailbox's zone, named the Windows way).
PREFER_UTC = {"Prefer": 'outlook.timezone="UTC"'}
SELECT = "id,start,end,isCancelled,isOnlineMeeting,onlineMeetingProvider,onlineMeeting,type,seriesMasterId"


@dataclass(frozen=True)
class TeamsOccurrence:
    """One planned occurrence of a Teams meeting; every occurrence of a recurring meeting shares its join URL and key."""

    key: str
    join_url: str
    start: datetime
    end: datetime

    @property
    def occurrence(self) -> Occurrence:
        minutes = max(int((self.end - self.start).total_seconds() // 60), 0)
        return Occurrence(to_iso(self.start) or "", minutes)


def calendar_window(now: datetime, horizon_hours: int) -> dict[str, str]:
    """Return the calendarView query for the meetings from `now` to the reminder horizon (recurrences come expanded)."""
    return {"startDateTime": to_iso(now) or "", "endDateTime": to_iso(now + timedelta(hours=horizon_hours)) or "", "$select": SELECT}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, Mapping) or not isinstance(value.get("dateTime"), str):
        return None
    try:
        zone = ZoneInfo(str(value.get("timeZone") or "UTC"))
        at = datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00")[:26])  # Graph writes 7 fraction digits
    except (ValueError, ZoneInfoNotFoundError):
        return None
    return (at if at.tzinfo else at.replace(tzinfo=zone)).astimezone(timezone.utc)


def teams_occurrence(event: Mapping[str, Any]) -> TeamsOccurrence | None:
    """Return a calendar event as a Teams meeting occurrence, or None if it is cancelled, not on Teams, or unreadable."""
    if event.get("isCancelled") or event.get("isOnlineMeeting") is False:
        return None
    if event.get("onlineMeetingProvider") not in (None, TEAMS_PROVIDER):
        return None
    online = event.get("onlineMeeting")
    join_url = online.get("joinUrl") if isinstance(online, Mapping) else None
    start, end = _time(event.get("start")), _time(event.get("end"))
    if not isinstance(join_url, str) or not join_url.startswith("https://") or start is None or end is None:
        return None
    return TeamsOccurrence(join_url_key(join_url), join_url, start, max(end, start))
