"""Build Zoom-shaped webhook bodies for a scripted meeting: the demo and the benchmarks replay them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class ScriptedPerson:
    user_id: str
    name: str
    participant_uuid: str
    account_id: str = ""
    email: str = ""

    def rejoined(self, user_id: str) -> "ScriptedPerson":
        """Return the same person with the new per-join id Zoom gives a reconnect."""
        return ScriptedPerson(user_id, self.name, self.participant_uuid, self.account_id, self.email)


@dataclass
class ScriptedMeeting:
    """A meeting occurrence whose events are written as (seconds from start, body)."""

    start: datetime
    meeting_id: str
    uuid: str
    host_id: str
    topic: str = "Therapy session"
    account_id: str = "DemoAccount0000000000"
    steps: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def _time(self, offset: float) -> str:
        return (self.start + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _object(self, **extra: Any) -> dict[str, Any]:
        return {
            "id": self.meeting_id,
            "uuid": self.uuid,
            "host_id": self.host_id,
            "topic": self.topic,
            "type": 2,
            "start_time": self._time(0),
            "timezone": "Europe/London",
            "duration": 50,
            **extra,
        }

    def _add(self, offset: float, name: str, obj: dict[str, Any], flat: bool = False) -> None:
        ms = int((self.start + timedelta(seconds=offset)).timestamp() * 1000)
        payload = dict(obj, account_id=self.account_id) if flat else {"account_id": self.account_id, "object": obj}
        self.steps.append((offset, {"event": name, "event_ts": ms, "payload": payload}))

    def _participant(self, person: ScriptedPerson, **extra: Any) -> dict[str, Any]:
        return {
            "user_id": person.user_id,
            "user_name": person.name,
            "id": person.account_id,
            "participant_uuid": person.participant_uuid,
            "email": person.email,
            **extra,
        }

    def created(self, offset: float) -> None:
        """Zoom reports the meeting planned (its start is this script's start)."""
        self._add(offset, "meeting.created", self._object())

    def started(self, offset: float = 0) -> None:
        self._add(offset, "meeting.started", self._object())

    def ended(self, offset: float) -> None:
        self._add(offset, "meeting.ended", self._object(end_time=self._time(offset)))

    def joined(self, offset: float, person: ScriptedPerson) -> None:
        self._add(offset, "meeting.participant_joined", self._object(participant=self._participant(person, join_time=self._time(offset))))

    def left(self, offset: float, person: ScriptedPerson) -> None:
        participant = self._participant(person, leave_time=self._time(offset), leave_reason="left the meeting")
        self._add(offset, "meeting.participant_left", self._object(participant=participant))

    def recording(self, offset: float, started: bool = True) -> None:
        self._add(offset, "recording.started" if started else "recording.stopped", self._object())

    def rtms_started(self, offset: float, stream_id: str, server_url: str) -> None:
        stream = {"meeting_uuid": self.uuid, "operator_id": self.host_id, "rtms_stream_id": stream_id, "server_urls": server_url}
        self._add(offset, "meeting.rtms_started", stream, flat=True)

    def rtms_stopped(self, offset: float, stream_id: str, reason: int) -> None:
        self._add(offset, "meeting.rtms_stopped", {"meeting_uuid": self.uuid, "rtms_stream_id": stream_id, "stop_reason": reason}, flat=True)

    def rtms_interrupted(self, offset: float, stream_id: str) -> None:
        self._add(offset, "meeting.rtms_interrupted", {"meeting_uuid": self.uuid, "rtms_stream_id": stream_id}, flat=True)
