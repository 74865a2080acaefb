"""Key each Zoom event by what identifies it, so the same event sent again, however reworded, is stored once."""
from __future__ import annotations

import hashlib
from json.encoder import encode_basestring_ascii

from bot.core import events as ev
from bot.core.timefmt import from_iso, to_stamp

# Keys of this form replaced a hash of the whole body (64 hex digits and ":n"): the prefix keeps
# the two apart, and says which rule made a stored key.
PREFIX = "z2:"


def _own_time(event: ev.MeetingEvent) -> str:
    """Return when the event itself happened, as the parser read it (never `event_ts` if it had a time of its own)."""
    if isinstance(event, ev.MeetingStarted) and event.scheduled_start:
        # The parser times a start by event_ts; the payload's start_time is the start's own time.
        try:
            return to_stamp(from_iso(event.scheduled_start))
        except ValueError:
            return event.scheduled_start
    return to_stamp(event.at)


def event_key(name: str, event: ev.MeetingEvent) -> str:
    """Return the key of a parsed Zoom event: its name, meeting occurrence, who it is about, and its own time.

    `event_ts` (when Zoom sent it) is left out wherever the payload has the event's own time, so a
    redelivery sent later, or with another topic or display name, gets the same key. Events that
    carry no time of their own (recording without its file times, RTMS) keep `event_ts`: a stream
    started again is a new event, told apart from the first only by it.
    """
    who: list[str] = []
    if isinstance(event, ev.ParticipantEvent):
        p = event.participant
        who = [p.stable_id, p.user_id, p.account_id]
        if not any(who):  # nothing else tells two people apart
            who.append(p.name)
    elif isinstance(event, (ev.StreamStarted, ev.StreamStopped, ev.StreamInterrupted)):
        who = [event.stream_id]
    identity = [name, event.meeting.platform, event.meeting.occurrence_id, *who, _own_time(event)]
    # The text `json.dumps(identity)` makes (the keys stored already were made so), without its encoder's set-up per call;
    # ASCII escapes: a lone surrogate cannot fail it.
    text = "[" + ", ".join(map(encode_basestring_ascii, identity)) + "]"
    return PREFIX + hashlib.sha256(text.encode()).hexdigest()
