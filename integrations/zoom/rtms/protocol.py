"""Zoom RTMS messages: sign, build the client's requests, and parse what the server sends."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from bot.core.events import ParticipantRef
from bot.core.timefmt import from_epoch_ms
from bot.tracking.frames import Frame

PROTOCOL_VERSION = 1

# msg_type values (Zoom's RTMS_MESSAGE_TYPE).
SIGNALING_HANDSHAKE_REQ = 1
SIGNALING_HANDSHAKE_RESP = 2
MEDIA_HANDSHAKE_REQ = 3
MEDIA_HANDSHAKE_RESP = 4
EVENT_SUBSCRIPTION = 5
EVENT_UPDATE = 6
CLIENT_READY_ACK = 7
STREAM_STATE_UPDATE = 8
SESSION_STATE_UPDATE = 9
KEEP_ALIVE_REQ = 12
KEEP_ALIVE_RESP = 13
MEDIA_DATA_VIDEO = 15
STREAM_CLOSE_REQ = 21
STREAM_CLOSE_RESP = 22
VIDEO_SUBSCRIPTION_REQ = 28
VIDEO_SUBSCRIPTION_RESP = 29

# event_type values inside EVENT_UPDATE.
PARTICIPANT_JOIN = 3
PARTICIPANT_LEAVE = 4
PARTICIPANT_VIDEO_ON = 8
PARTICIPANT_VIDEO_OFF = 9
SUBSCRIBED_EVENTS = (PARTICIPANT_JOIN, PARTICIPANT_LEAVE, PARTICIPANT_VIDEO_ON, PARTICIPANT_VIDEO_OFF)

MEDIA_TYPE_VIDEO = 2
CODEC_JPG = 5
RESOLUTION_SD = 1
DATA_OPT_INDIVIDUAL = 4  # one chosen participant's video, picked with VIDEO_SUBSCRIPTION_REQ
MAX_JPG_FPS = 5


class RtmsMessageError(ValueError):
    """A server message that is not what RTMS sends; the text names the field, never a value."""


def sign(client_id: str, client_secret: str, meeting_uuid: str, stream_id: str) -> str:
    """Return the hex HMAC-SHA256 that both RTMS handshakes carry."""
    message = f"{client_id},{meeting_uuid},{stream_id}".encode()
    return hmac.new(client_secret.encode(), message, hashlib.sha256).hexdigest()


def _handshake(msg_type: int, meeting_uuid: str, stream_id: str, signature: str) -> dict[str, Any]:
    """Return the fields both handshakes share: which stream, and the proof that we may open it."""
    return {
        "msg_type": msg_type,
        "protocol_version": PROTOCOL_VERSION,
        "meeting_uuid": meeting_uuid,
        "rtms_stream_id": stream_id,
        "signature": signature,
    }


def signaling_handshake(meeting_uuid: str, stream_id: str, signature: str, sequence: int) -> dict[str, Any]:
    """Return the first message on the signaling socket."""
    return {**_handshake(SIGNALING_HANDSHAKE_REQ, meeting_uuid, stream_id, signature), "sequence": sequence}


def video_params(fps: int) -> dict[str, int]:
    """Return the video parameters we ask for: one participant's JPG frames, SD, at `fps`."""
    if not 1 <= fps <= MAX_JPG_FPS:
        raise ValueError(f"JPG video is limited to 1..{MAX_JPG_FPS} fps")
    return {"codec": CODEC_JPG, "resolution": RESOLUTION_SD, "data_opt": DATA_OPT_INDIVIDUAL, "fps": fps}


def media_handshake(meeting_uuid: str, stream_id: str, signature: str, fps: int) -> dict[str, Any]:
    """Return the first message on the video media socket."""
    return {
        **_handshake(MEDIA_HANDSHAKE_REQ, meeting_uuid, stream_id, signature),
        "media_type": MEDIA_TYPE_VIDEO,
        "media_params": {"video": video_params(fps)},
    }


def client_ready(stream_id: str) -> dict[str, Any]:
    """Return the message that tells the server to start sending media."""
    return {"msg_type": CLIENT_READY_ACK, "rtms_stream_id": stream_id}


def subscribe_events(event_types: tuple[int, ...] = SUBSCRIBED_EVENTS) -> dict[str, Any]:
    """Return the event subscription: joins, leaves, and cameras going on and off."""
    return {"msg_type": EVENT_SUBSCRIPTION, "events": [{"event_type": e, "subscribe": True} for e in event_types]}


def keep_alive_answer(request: Mapping[str, Any]) -> dict[str, Any]:
    """Return the echo of a keep-alive request (sent back on the socket it came on)."""
    return {"msg_type": KEEP_ALIVE_RESP, "timestamp": request.get("timestamp")}


def subscribe_video(user_id: int | str) -> dict[str, Any]:
    """Return the request to receive this participant's video (replacing any earlier choice)."""
    return {"msg_type": VIDEO_SUBSCRIPTION_REQ, "user_id": user_id, "subscribe": True}


def stream_close_answer(stream_id: str) -> dict[str, Any]:
    return {"msg_type": STREAM_CLOSE_RESP, "rtms_stream_id": stream_id}


def decode(text: str) -> dict[str, Any]:
    """Return a server message as a mapping with an integer `msg_type`."""
    try:
        message = json.loads(text)
    except ValueError:
        raise RtmsMessageError("the message is not JSON") from None
    if not isinstance(message, dict):
        raise RtmsMessageError("the message is not a JSON object")
    kind = message.get("msg_type")
    if isinstance(kind, bool) or not isinstance(kind, int):
        raise RtmsMessageError("msg_type is missing")
    return message


def media_url(response: Mapping[str, Any]) -> str:
    """Return the video media server's URL from the signaling handshake response."""
    server = response.get("media_server")
    urls = server.get("server_urls") if isinstance(server, dict) else None
    url = (urls.get("video") or urls.get("all")) if isinstance(urls, dict) else None
    if not isinstance(url, str) or not url:
        raise RtmsMessageError("media_server.server_urls has no video URL")
    return url


@dataclass(frozen=True)
class ParticipantUpdate:
    """One participant named in an EVENT_UPDATE: `rtms_id` keeps the server's own type for msg 28."""

    event_type: int
    at_ms: int
    rtms_id: int | str
    name: str

    @property
    def at(self) -> datetime:
        return from_epoch_ms(self.at_ms)

    @property
    def ref(self) -> ParticipantRef:
        return ParticipantRef(user_id=str(self.rtms_id), name=self.name)


def participant_updates(message: Mapping[str, Any]) -> list[ParticipantUpdate]:
    """Return one entry per participant of an EVENT_UPDATE (an event without participants gives none)."""
    event = message.get("event")
    if not isinstance(event, dict):
        raise RtmsMessageError("event is missing")
    kind, stamp = event.get("event_type"), event.get("timestamp")
    if isinstance(kind, bool) or not isinstance(kind, int):
        raise RtmsMessageError("event.event_type is missing")
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
        raise RtmsMessageError("event.timestamp is missing")
    people = event.get("participants") or []
    if not isinstance(people, list):
        raise RtmsMessageError("event.participants is not a list")
    found = []
    for person in people:
        uid = person.get("user_id") if isinstance(person, dict) else None
        if isinstance(uid, bool) or not isinstance(uid, (int, str)) or uid == "":
            raise RtmsMessageError("event.participants[].user_id is missing")
        found.append(ParticipantUpdate(kind, int(stamp), uid, str(person.get("user_name") or "").strip()))
    return found


def video_frame(message: Mapping[str, Any], session_id: str) -> Frame:
    """Decode a MEDIA_DATA_VIDEO message's base64 JPEG into a frame of the session."""
    content = message.get("content")
    if not isinstance(content, dict):
        raise RtmsMessageError("content is missing")
    data, stamp = content.get("data"), content.get("timestamp")
    if not isinstance(data, str) or not data:
        raise RtmsMessageError("content.data is missing")
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
        raise RtmsMessageError("content.timestamp is missing")
    try:
        jpeg = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise RtmsMessageError("content.data is not base64") from None
    return Frame(session_id, str(content.get("user_id", "")), from_epoch_ms(stamp), jpeg)
