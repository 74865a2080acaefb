"""Tell the parts of the service that follow live meetings which events were just stored."""
from __future__ import annotations

import logging
from typing import Callable, Sequence

from bot.core.events import MeetingEvent, MeetingRef

_LOGGER = logging.getLogger(__name__)
Listener = Callable[[MeetingRef, Sequence[MeetingEvent]], None]


class StoredEvents:
    """A list of listeners called, in turn and without waiting, after a delivery's events are stored."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` after every stored delivery; it must return at once (queue any work)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def publish(self, meeting: MeetingRef, events: Sequence[MeetingEvent]) -> None:
        """Tell every listener about a stored delivery; one failing listener does not stop the others."""
        for listener in list(self._listeners):
            try:
                listener(meeting, events)
            except Exception:
                _LOGGER.exception("a listener failed on %d stored event(s) of %s meeting %s", len(events), meeting.platform, meeting.meeting_id or "-")
