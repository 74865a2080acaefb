"""Decide from a meeting's stored events which RTMS stream should be open, and when to reconnect."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Iterator

from bot.core import events as ev

# stop_reason values of meeting.rtms_stopped that call for a full restart; 1-9 are normal ends.
RESTART_REASONS = frozenset(range(10, 20)) | {24}


@dataclass(frozen=True)
class StreamPlan:
    """The stream that should be open, and the time of the latest event asking for a (re)connect."""

    stream: ev.StreamStarted
    asked_at: datetime


def _same_stream(event: ev.StreamStopped | ev.StreamInterrupted, started: ev.StreamStarted) -> bool:
    return not event.stream_id or event.stream_id == started.stream_id


def stream_plan(events: Iterable[ev.MeetingEvent]) -> StreamPlan | None:
    """Return the stream to keep open after `events` (in their own time order), or None to close."""
    plan: StreamPlan | None = None
    for event in events:
        if isinstance(event, ev.MeetingEnded):
            return None  # the meeting's end closes every stream, whatever arrives later
        if isinstance(event, ev.StreamStarted) and event.server_url:
            plan = StreamPlan(event, event.at)
        elif isinstance(event, ev.StreamInterrupted) and plan and _same_stream(event, plan.stream):
            plan = StreamPlan(plan.stream, event.at)
        elif isinstance(event, ev.StreamStopped) and plan and _same_stream(event, plan.stream):
            plan = StreamPlan(plan.stream, event.at) if event.reason in RESTART_REASONS else None
    return plan


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: `first` seconds, doubling up to `cap`, for at most `attempts` tries."""

    first: float = 3.0
    cap: float = 30.0
    attempts: int = 8

    def delays(self) -> Iterator[float]:
        """Yield the wait before each reconnect attempt."""
        delay = self.first
        for _ in range(self.attempts):
            yield delay
            delay = min(self.cap, delay * 2)


@dataclass(frozen=True)
class RtmsTiming:
    """How patient the RTMS client is; tests shrink these."""

    backoff: Backoff = Backoff()
    # The server sends a keep-alive about every 10 s and drops us after three missed answers;
    # silence for longer than that means the socket is dead even if TCP has not noticed.
    silence_seconds: float = 35.0
    connect_seconds: float = 10.0
