"""Order the events of one instant: a leave that ends an earlier presence comes before the rejoin."""
from __future__ import annotations

from typing import Iterable, Iterator

from . import events as ev
from .participants import Roster

# Just before the joins (rank 2), after the waiting room and admissions (rank 1).
_REJOIN_RANK = 1.5


def _instants(events: Iterable[ev.MeetingEvent]) -> Iterator[list[ev.MeetingEvent]]:
    group: list[ev.MeetingEvent] = []
    for event in events:
        if group and event.at != group[0].at:
            yield group
            group = []
        group.append(event)
    if group:
        yield group


def _ends_earlier_presence(leave: ev.ParticipantLeft, roster: Roster, instant: list[ev.MeetingEvent]) -> bool:
    """Return whether `leave` closes a presence that began before its instant (not a one-second visit's end)."""
    person = roster.find(leave.participant)
    if person is None:
        return False
    connection = leave.participant.user_id
    if connection not in person.connections and any(
        isinstance(e, ev.ParticipantJoined) and e.participant.user_id == connection for e in instant
    ):
        return False  # this connection begins at this very instant: it joins, then leaves
    return person.present_before(leave.at, connection)


def _leaves_before_rejoins(instant: list[ev.MeetingEvent], roster: Roster) -> list[ev.MeetingEvent]:
    if len(instant) < 2:
        return instant
    ranks = [
        _REJOIN_RANK if isinstance(e, ev.ParticipantLeft) and _ends_earlier_presence(e, roster, instant) else e.rank
        for e in instant
    ]
    # Ties keep the order they came in (the store's, by key): the result never depends on arrival.
    return [instant[n] for n in sorted(range(len(instant)), key=lambda n: (ranks[n], n))]


def applied_order(events: Iterable[ev.MeetingEvent], roster: Roster) -> Iterator[ev.MeetingEvent]:
    """Yield `events` (in time order) in the order to apply them, deciding each instant on `roster` as it stands.

    Zoom's times are whole seconds and a join ranks before a leave, so a client who dropped out and
    came back within one second would read as gone. Who was there just before decides: a person
    present leaves, then rejoins; a person new at that instant joins, then leaves (a brief visit).
    The caller applies each event to `roster` before asking for the next instant.
    """
    for instant in _instants(events):
        yield from _leaves_before_rejoins(instant, roster)
