"""Alert rules as a table: each finds, from a session's state and `now`, the alerts that are due."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterator

from .participants import OTHER
from .prompts import SEEN
from .session import MeetingState
from .timefmt import to_iso


@dataclass(frozen=True)
class AlertSettings:
    video_off_alert_seconds: int = 60
    video_off_repeat_seconds: int = 300


@dataclass(frozen=True)
class Alert:
    """A private alert for the therapist; `key` makes raising it idempotent."""

    at: datetime
    kind: str
    key: str
    message: str


def _third_party(state: MeetingState, settings: AlertSettings, now: datetime) -> Iterator[Alert]:
    for person in state.roster.with_role(OTHER):
        if person.first_joined is not None:
            yield Alert(
                person.first_joined,
                "third_party_joined",
                f"third_party_joined:{person.key}",
                "Another person joined the meeting.",
            )


def _client_share(state: MeetingState, settings: AlertSettings, now: datetime) -> Iterator[Alert]:
    for at in state.client_shares:
        yield Alert(at, "client_screen_share", f"client_screen_share:{to_iso(at)}", "The client started sharing their screen.")


def _recording(state: MeetingState, settings: AlertSettings, now: datetime) -> Iterator[Alert]:
    for at in state.recordings:
        yield Alert(at, "recording_started", f"recording_started:{to_iso(at)}", "Someone started recording the meeting.")


def _video_off(state: MeetingState, settings: AlertSettings, now: datetime) -> Iterator[Alert]:
    for interval in state.video_off:
        for due in video_off_due_times(interval.start, interval.end or now, settings):
            minutes = int((due - interval.start).total_seconds() // 60)
            span = f"{minutes} min" if minutes else f"{int((due - interval.start).total_seconds())} s"
            yield Alert(
                due,
                "client_video_off",
                f"client_video_off:{to_iso(interval.start)}:{to_iso(due)}",
                f"The client's video has been off for {span}.",
            )


def video_off_due_times(start: datetime, until: datetime, settings: AlertSettings) -> Iterator[datetime]:
    """Yield the alert times of a video-off interval from `start`, up to and including `until`."""
    due = start + timedelta(seconds=settings.video_off_alert_seconds)
    step = timedelta(seconds=max(1, settings.video_off_repeat_seconds))
    while due <= until:
        yield due
        due += step


# Framing the analysis sees that the guidance asks the therapist to watch for (their returns only prompt a note).
WATCHED_FRAMING = ("face_lost", "hands_out_of_view", "lying_down", "camera_covered", "frozen", "scene_changed", "moved_away")


def _framing(state: MeetingState, settings: AlertSettings, now: datetime) -> Iterator[Alert]:
    for event in state.framing:
        if event.source == "analysis" and event.change in WATCHED_FRAMING:
            key = f"framing_changed:{event.change}:{to_iso(event.at)}"
            yield Alert(event.at, "framing_changed", key, f"{SEEN[event.change]}.")


RuleFn = Callable[[MeetingState, AlertSettings, datetime], Iterator[Alert]]

ALERT_RULES: dict[str, RuleFn] = {
    "third_party_joined": _third_party,
    "client_screen_share": _client_share,
    "recording_started": _recording,
    "client_video_off": _video_off,
    "framing_changed": _framing,
}


def find_alerts(state: MeetingState, settings: AlertSettings, now: datetime) -> list[Alert]:
    """Return every alert the session has earned by `now`, in time order."""
    found = [alert for rule in ALERT_RULES.values() for alert in rule(state, settings, now)]
    return sorted(found, key=alert_order)


def alert_order(alert: Alert) -> tuple[datetime, str, str]:
    """Return what orders the alerts: their time, kind and key."""
    return alert.at, alert.kind, alert.key


def next_alert_due(state: MeetingState, settings: AlertSettings, now: datetime) -> datetime | None:
    """Return when a time-based alert next falls due after `now` (for the timers), or None."""
    if state.ended or not state.video_off or state.video_off[-1].end is not None:
        return None
    first = state.video_off[-1].start + timedelta(seconds=settings.video_off_alert_seconds)
    if now < first:
        return first
    step = max(1, settings.video_off_repeat_seconds)
    return first + timedelta(seconds=step * ((now - first).total_seconds() // step + 1))
