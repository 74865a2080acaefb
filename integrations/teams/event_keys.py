"""Key each Teams event by what identifies it, so a notification Graph delivers again is stored once."""
from __future__ import annotations

import hashlib
import json

from bot.core import events as ev
from bot.core.timefmt import to_stamp

PREFIX = "t1:"


def event_key(event: ev.MeetingEvent) -> str:
    """Return the key of a Teams event: its kind, call, participant (per-join id) and own time."""
    who = [event.participant.user_id] if isinstance(event, ev.ParticipantEvent) else []
    identity = [event.kind, event.meeting.platform, event.meeting.occurrence_id, *who, to_stamp(event.at)]
    return PREFIX + hashlib.sha256(json.dumps(identity).encode()).hexdigest()
