"""The session folded so far: its events in order and the state they make, one more event at a time."""
from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime
from typing import Iterable

from . import events as ev
from .participants import CLIENT, THERAPIST, RoleRules
from .session import MeetingState, fold_state, judge_event, note_presence

SortKey = tuple[datetime, int, str]  # the event's own time, its rank at that instant, then its stored key (as the store orders them)

_GENERATIONS = itertools.count(1)
# Events that decide the session's bounds: each folds the session again (they come once or twice a session).
_BOUNDS = (ev.MeetingStarted, ev.MeetingEnded, ev.SessionClosed)


class SessionFold:
    """A session's events and their state, kept between judgements: the events stay the truth.

    An event that comes last in the store's order, that changes no one's role and not the session's bounds, is
    applied where it stands (a camera report, a share, a recording, framing, a known person coming
    back or leaving): its cost is its own, not the session's. Anything else (an event
    out of order, someone new, the start or the end) folds every event held again, from memory.
    `state()` equals `build_state` of every event held, whatever order they came in.
    """

    def __init__(self, meeting: ev.MeetingRef, rules: RoleRules) -> None:
        self.meeting = meeting
        self.rules = rules
        self._events: list[tuple[SortKey, ev.MeetingEvent]] = []  # in the store's order
        self._keys: set[str] = set()
        self._reported: set[ev.ParticipantRef] = set()  # who the camera reports name: looked up, never placed on the roster
        self._state, self._video = fold_state(meeting, (), rules)
        self.refolds = 0  # how many times every event was folded again (tests and benchmarks read it)
        # Changes with every fold from scratch: what was judged of one generation's state stays true of it.
        self.generation = next(_GENERATIONS)

    @property
    def keys(self) -> set[str]:
        """Return the keys of the events held (read only: a key held again is ignored)."""
        return self._keys

    def __len__(self) -> int:
        return len(self._events)

    @property
    def last_at(self) -> datetime | None:
        """Return the time of the last event in order: an event applied in place is never earlier."""
        return self._events[-1][0][0] if self._events else None

    def add(self, keyed: Iterable[tuple[str, ev.MeetingEvent]]) -> None:
        """Take events, each with its stored key; a key already held changes nothing (a redelivery)."""
        stale = False
        for key, event in keyed:
            if key in self._keys:
                continue
            self._keys.add(key)
            if isinstance(event, ev.VideoStateChanged):
                self._reported.add(event.participant)
            entry = ((event.at, event.rank, key), event)
            if not stale and self._applies_in_place(entry[0], event):
                self._events.append(entry)
                note_presence(self._state, event)
                judge_event(self._state, self._video, event)
            else:
                self._events.append(entry)
                stale = True
        if stale:
            self._events.sort(key=lambda pair: pair[0])  # nearly in order already: a merge of runs
            self._refold()

    def judge_with(self, rules: RoleRules) -> None:
        """Tell the therapist and client apart by new rules (the profiles changed): fold every event again."""
        self.rules = rules
        self._refold()

    def state(self) -> MeetingState:
        """Return the session's state: a copy later events do not change, but for its roster's presence, which they extend."""
        state = self._state
        if state.ended_at is not None:  # no event is applied in place after the end: this one is never changed
            return state
        video_off = list(state.video_off)
        if video_off and video_off[-1].end is None:  # only the open interval changes in place
            video_off[-1] = dataclasses.replace(video_off[-1])
        return dataclasses.replace(
            state,
            video_off=video_off,
            timeline=list(state.timeline),
            client_shares=list(state.client_shares),
            recordings=list(state.recordings),
            framing=list(state.framing),
        )

    def _applies_in_place(self, order: SortKey, event: ev.MeetingEvent) -> bool:
        """Return whether folding every event again would do to the state exactly what applying `event` alone does.

        It must come last in the store's order, and so last in the applied order of its instant too
        (which only ever moves a leave forward, see instants.py): a leave only at an instant of its own.
        """
        if self._state.ended_at is not None or isinstance(event, _BOUNDS):
            return False
        if self._events and (order <= self._events[-1][0] or (isinstance(event, ev.ParticipantLeft) and event.at <= self._events[-1][0][0])):
            return False
        if isinstance(event, ev.ParticipantEvent) and not isinstance(event, ev.VideoStateChanged):
            person = self._state.roster.find(event.participant)
            if person is None:
                return False  # someone new
            if isinstance(event, ev.ParticipantJoined) and person.first_joined is None:
                return False  # a first arrival can make someone the client, or the session's start
            if event.participant not in person.refs and not self._named_anew(person.role, event):
                return False  # a new way of naming someone that may change whom other references point at, or a role
        return True

    def _named_anew(self, role: str, event: ev.ParticipantEvent) -> bool:
        """Return whether a new ref of a known person (Zoom gives each reconnect its own user id), with that person's `role`,
        changes nothing of what came before it: at an instant of its own, neither the therapist's nor the client's ref
        unless theirs already, and taking over no other reference."""
        ref = event.participant
        if event.at <= self._events[-1][0][0]:  # the order at a shared instant looks at the instant's joins
            return False
        if (self.rules.is_therapist(ref) and role != THERAPIST) or (self.rules.looks_like_client(ref) and role != CLIENT):
            return False
        return self._state.roster.takes_alone(ref, self._reported)

    def _refold(self) -> None:
        self._state, self._video = fold_state(self.meeting, [event for _, event in self._events], self.rules)
        self.refolds += 1
        self.generation = next(_GENERATIONS)
