"""Fold a meeting's events, in the order of their own time, into the state of one session."""
from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from . import events as ev
from .instants import applied_order
from .participants import CLIENT, Person, RoleRules, Roster
from .video import VideoOffInterval, VideoOffTracker


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    event: str
    person: Person | None = None


@dataclass
class MeetingState:
    """Everything the alert rules and the summary need about one meeting occurrence."""

    meeting: ev.MeetingRef
    started_at: datetime | None = None
    start_reported: bool = False  # a start event is stored: `started_at` is not the first join's stand-in
    ended_at: datetime | None = None
    scheduled_start: str = ""
    scheduled_minutes: int = 0
    roster: Roster = field(default_factory=Roster)
    video_off: list[VideoOffInterval] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    client_shares: list[datetime] = field(default_factory=list)
    recordings: list[datetime] = field(default_factory=list)
    framing: list[ev.FramingChanged] = field(default_factory=list)  # seen by the analysis or marked by the therapist
    last_event_at: datetime | None = None
    closed_by_watchdog: bool = False

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


_PRESENCE = {
    ev.ParticipantJoined.kind: Person.join,
    ev.ParticipantLeft.kind: Person.leave,
}


def build_state(meeting: ev.MeetingRef, events: Iterable[ev.MeetingEvent], rules: RoleRules) -> MeetingState:
    """Return the session's state after `events` (already in their own time order)."""
    return fold_state(meeting, events, rules)[0]


def fold_state(
    meeting: ev.MeetingRef, events: Iterable[ev.MeetingEvent], rules: RoleRules
) -> tuple[MeetingState, VideoOffTracker]:
    """Return the session's state after `events` (in their own time order), and the tracker of the client's video in it."""
    state = MeetingState(meeting=meeting)
    closed_at: datetime | None = None
    ordered: list[ev.MeetingEvent] = []  # as applied: at one instant, leaves before rejoins
    # First pass: who was there and when, so roles are known before anything is judged.
    for event in applied_order(events, state.roster):
        ordered.append(event)
        if isinstance(event, ev.SessionClosed):
            closed_at = event.at if closed_at is None else min(closed_at, event.at)
            continue
        note_presence(state, event)
    if state.started_at is None:
        joins = [p.first_joined for p in state.roster.people if p.first_joined is not None]
        state.started_at = min(joins) if joins else None
    if state.ended_at is None and closed_at is not None:  # a real end, however late, wins
        state.ended_at, state.closed_by_watchdog = closed_at, True
    if state.ended_at is not None:
        for person in state.roster.people:
            person.close(state.ended_at)
    state.roster.assign_roles(rules)
    # Second pass: judge what happened, now that everyone's role is known.
    video = VideoOffTracker(state.roster.client)
    for event in ordered:
        judge_event(state, video, event)
    if state.ended_at is not None:
        video.meeting_ended(state.ended_at)
    state.video_off = video.intervals
    return state, video


def note_presence(state: MeetingState, event: ev.MeetingEvent) -> None:
    """Apply an event (not a watchdog's close) to the session's times and its roster: the first pass."""
    state.last_event_at = event.at if state.last_event_at is None else max(state.last_event_at, event.at)
    if isinstance(event, ev.MeetingStarted):
        state.started_at = event.at if state.started_at is None else min(state.started_at, event.at)
        state.start_reported = True
        state.scheduled_start = event.scheduled_start or state.scheduled_start
        state.scheduled_minutes = event.scheduled_minutes or state.scheduled_minutes
    elif isinstance(event, ev.MeetingEnded):
        state.ended_at = event.at if state.ended_at is None else max(state.ended_at, event.at)
    elif isinstance(event, ev.ParticipantEvent) and not isinstance(event, ev.VideoStateChanged):
        person = state.roster.person(event.participant)
        if event.kind in _PRESENCE:
            _PRESENCE[event.kind](person, event.at, event.participant.user_id)


def judge_event(state: MeetingState, video: VideoOffTracker, event: ev.MeetingEvent) -> None:
    """Judge an event with everyone's role known (the second pass): the client's video, shares, recordings, framing, the timeline."""
    person = state.roster.find(event.participant) if isinstance(event, ev.ParticipantEvent) else None
    client = video.client
    if isinstance(event, ev.VideoStateChanged):
        if person is None or person is not client:
            return
        video.report(event.at, event.on)
    elif isinstance(event, ev.ParticipantLeft) and person is client:
        video.client_left(event.at)
    elif isinstance(event, ev.SharingStarted) and person is not None and person.role == CLIENT:
        state.client_shares.append(event.at)
    elif isinstance(event, ev.RecordingStarted):
        state.recordings.append(event.at)
    elif isinstance(event, ev.FramingChanged):
        state.framing.append(event)
    if isinstance(event, ev.SessionClosed) and not state.closed_by_watchdog:
        return
    if not isinstance(event, (ev.StreamStarted, ev.StreamStopped, ev.StreamInterrupted)):
        state.timeline.append(TimelineEntry(event.at, _timeline_name(event), person))


def from_instant(state: MeetingState, at: datetime) -> MeetingState:
    """Return the state with only the camera-off intervals, framing changes, shares and recordings from `at` on.

    What happened before a settled instant is judged already: judging the rest costs what it holds.
    """
    return dataclasses.replace(
        state,
        video_off=state.video_off[bisect.bisect_left(state.video_off, at, key=lambda i: i.start) :],
        framing=state.framing[bisect.bisect_left(state.framing, at, key=lambda e: e.at) :],
        client_shares=state.client_shares[bisect.bisect_left(state.client_shares, at) :],
        recordings=state.recordings[bisect.bisect_left(state.recordings, at) :],
    )


def _timeline_name(event: ev.MeetingEvent) -> str:
    if isinstance(event, ev.VideoStateChanged):
        return "video_on" if event.on else "video_off"
    return event.kind
