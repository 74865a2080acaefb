"""Place each Teams call event in its call (one session), from what is stored, and record its domain events."""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from bot.core import events as ev
from bot.core.timefmt import to_stamp
from bot.tracking.tracker import Recorded, SessionTracker

from .const import PLATFORM
from .event_keys import event_key
from .events import CallEvent, places, roster_events

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordedCall:
    """What one call event became: its session's meeting, its domain events, and whether they were stored."""

    meeting: ev.MeetingRef
    events: tuple[ev.MeetingEvent, ...]
    recorded: Recorded


@dataclass(frozen=True)
class _Call:
    meeting: ev.MeetingRef
    events: list[ev.MeetingEvent]
    started: datetime | None
    ended: datetime | None


class CallBook:
    """A meeting link is reused by every call of a (recurring) meeting: each call is its own session.

    The calls are read back from the stored sessions and events, so a restart mid-meeting neither
    re-joins everybody nor opens a second session. One event at a time: each sees the last one stored.
    """

    def __init__(self, tracker: SessionTracker) -> None:
        self._tracker = tracker
        self._lock = asyncio.Lock()

    async def record(
        self, therapist_id: str, host_id: str, meeting_id: str, call: CallEvent, raw: Mapping[str, Any]
    ) -> RecordedCall | None:
        """Store the call event's domain events in the call it belongs to; None when it belongs to none."""
        async with self._lock:
            latest = await self._latest(therapist_id, host_id, meeting_id)
            meeting = self._meeting_for(call, latest, host_id, meeting_id)
            if meeting is None:
                _LOGGER.info("Teams %s for meeting %s matches no call: ignored", call.name, meeting_id)
                return None
            events = self._events(call, meeting, latest.events if latest and latest.meeting == meeting else [])
            events = [dataclasses.replace(e, raw=raw) for e in events]
            recorded = await self._tracker.record(meeting, [(event_key(e), e) for e in events])
            return RecordedCall(meeting, tuple(events), recorded)

    async def _latest(self, therapist_id: str, host_id: str, meeting_id: str) -> _Call | None:
        store = self._tracker.store
        rows = [r for r in await store.sessions(therapist_id, PLATFORM) if r.meeting_id == meeting_id]
        if not rows:
            return None
        meeting = dataclasses.replace(rows[0].meeting, host_id=host_id)
        events = await store.session_events(meeting)
        starts = [e.at for e in events if isinstance(e, ev.MeetingStarted)]
        ends = [e.at for e in events if isinstance(e, ev.MeetingEnded)]
        return _Call(meeting, events, min(starts, default=None), max(ends, default=None))

    @staticmethod
    def _meeting_for(call: CallEvent, latest: _Call | None, host_id: str, meeting_id: str) -> ev.MeetingRef | None:
        """Return the session the event belongs to: the latest call if it is the same call, else a new one."""
        if call.name == "callStarted":
            # The same start again, or the start of a call first heard of by its roster.
            same = latest is not None and (latest.started == call.at or (latest.started is None and latest.ended is None))
        elif call.name == "callEnded":
            same = latest is not None and latest.ended in (None, call.at)
            if not same:
                return None  # the end of a call never heard of: nothing to end
        else:
            same = latest is not None and (latest.ended is None or call.at <= latest.ended)
        if same and latest is not None:
            return latest.meeting
        return ev.MeetingRef(PLATFORM, f"{meeting_id}@{to_stamp(call.at)}", meeting_id, host_id)

    @staticmethod
    def _events(call: CallEvent, meeting: ev.MeetingRef, stored: list[ev.MeetingEvent]) -> list[ev.MeetingEvent]:
        if call.name == "callStarted":
            return [ev.MeetingStarted(meeting=meeting, at=call.at)]
        if call.name == "callEnded":
            return [ev.MeetingEnded(meeting=meeting, at=call.at)]
        where = places([e for e in stored if e.at <= call.at])  # as of this event: Graph may deliver late
        found: list[ev.MeetingEvent] = []
        for entry in call.roster:
            pid = entry.participant.user_id
            found += roster_events(meeting, call.at, entry, where.get(pid))
            if entry.place is None:
                where.pop(pid, None)
            else:
                where[pid] = entry.place
        return found
