"""RTMS message building and parsing (integrations/zoom/rtms/protocol.py)."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest

from bot.core.events import ParticipantRef
from integrations.zoom.rtms import protocol as p

MEETING = "4444AAAiAAAAAiAiAiiAii=="
STREAM = "609340fb2a7946909659956c8aa9250c"


def test_signature_matches_an_independently_computed_vector():
    # printf '%s' 'rtms-app-Q7c2,4444AAAiAAAAAiAiAiiAii==,609340fb2a7946909659956c8aa9250c' \
    #   | openssl dgst -sha256 -hmac 'rtms-secret-x9Lm4'
    assert p.sign("rtms-app-Q7c2", "rtms-secret-x9Lm4", MEETING, STREAM) == (
        "26ea4ebaf1c0ddba8bd0b1b73edc541e2040797411f195052dd4de41566bff08"
    )
    assert p.sign("rtms-app-Q7c2", "other", MEETING, STREAM) != p.sign("rtms-app-Q7c2", "rtms-secret-x9Lm4", MEETING, STREAM)


def test_handshakes_carry_the_stream_the_signature_and_our_video_choice():
    assert p.signaling_handshake(MEETING, STREAM, "sig", 4) == {
        "msg_type": 1, "protocol_version": 1, "sequence": 4, "meeting_uuid": MEETING, "rtms_stream_id": STREAM, "signature": "sig",
    }
    media = p.media_handshake(MEETING, STREAM, "sig", 3)
    assert media["msg_type"] == 3 and media["media_type"] == 2 and media["signature"] == "sig"
    assert media["media_params"] == {"video": {"codec": 5, "resolution": 1, "data_opt": 4, "fps": 3}}


@pytest.mark.parametrize("fps", [0, 6])
def test_jpg_video_outside_1_to_5_fps_is_refused(fps):
    with pytest.raises(ValueError, match="1..5"):
        p.video_params(fps)


def test_control_messages():
    assert p.client_ready(STREAM) == {"msg_type": 7, "rtms_stream_id": STREAM}
    assert p.subscribe_events() == {
        "msg_type": 5,
        "events": [{"event_type": e, "subscribe": True} for e in (3, 4, 8, 9)],
    }
    assert p.keep_alive_answer({"msg_type": 12, "timestamp": 1738000000123}) == {"msg_type": 13, "timestamp": 1738000000123}
    assert p.subscribe_video(16779264) == {"msg_type": 28, "user_id": 16779264, "subscribe": True}


@pytest.mark.parametrize(
    "text, reason",
    [("nope", "not JSON"), ("[1]", "not a JSON object"), ('{"msg_type": "6"}', "msg_type"), ('{"msg_type": true}', "msg_type")],
)
def test_decode_rejects_what_rtms_does_not_send(text, reason):
    with pytest.raises(p.RtmsMessageError, match=reason):
        p.decode(text)


def test_media_url_prefers_the_video_server_and_falls_back_to_all():
    both = {"msg_type": 2, "status_code": 0, "media_server": {"server_urls": {"video": "wss://v", "all": "wss://a"}}}
    assert p.media_url(both) == "wss://v"
    assert p.media_url({"media_server": {"server_urls": {"audio": "wss://x", "all": "wss://a"}}}) == "wss://a"
    with pytest.raises(p.RtmsMessageError, match="no video URL"):
        p.media_url({"media_server": {"server_urls": {"audio": "wss://x"}}})


def test_event_updates_keep_int_and_string_user_ids_and_give_string_refs():
    message = p.decode(json.dumps({
        "msg_type": 6,
        "event": {"event_type": 9, "timestamp": 1795168920000, "participants": [
            {"user_id": 16779264, "user_name": "Sam Client"}, {"user_id": "16778240", "user_name": "Dr Ruth"},
        ]},
    }))
    first, second = p.participant_updates(message)
    assert (first.event_type, first.rtms_id, second.rtms_id) == (9, 16779264, "16778240")
    assert first.ref == ParticipantRef(user_id="16779264", name="Sam Client")
    assert first.at == datetime(2026, 11, 20, 10, 2, tzinfo=timezone.utc)
    assert p.participant_updates({"msg_type": 6, "event": {"event_type": 2, "timestamp": 1}}) == []


@pytest.mark.parametrize(
    "event, reason",
    [
        (None, "event is missing"),
        ({"timestamp": 1}, "event_type"),
        ({"event_type": 8}, "timestamp"),
        ({"event_type": 8, "timestamp": 1, "participants": [{"user_name": "x"}]}, "user_id"),
        ({"event_type": 8, "timestamp": 1, "participants": [{"user_id": True}]}, "user_id"),
    ],
)
def test_malformed_event_updates_are_named(event, reason):
    with pytest.raises(p.RtmsMessageError, match=reason):
        p.participant_updates({"msg_type": 6, "event": event})


def test_a_video_frame_is_decoded_from_base64():
    data = b"\xff\xd8\xff\xe0 not really a picture"
    message = {"msg_type": 15, "content": {"user_id": 16779264, "user_name": "Sam", "data": base64.b64encode(data).decode(), "timestamp": 1795168920500}}
    frame = p.video_frame(message, "s1")
    assert (frame.session_id, frame.user_id, frame.jpeg) == ("s1", "16779264", data)
    assert frame.at == datetime(2026, 11, 20, 10, 2, 0, 500000, tzinfo=timezone.utc)
    for content, reason in [({"timestamp": 1}, "data"), ({"data": "AA==", "timestamp": None}, "timestamp"), ({"data": "***", "timestamp": 1}, "base64")]:
        with pytest.raises(p.RtmsMessageError, match=reason):
            p.video_frame({"msg_type": 15, "content": content}, "s1")
