"""Keys of Zoom events: the same event sent again gets the same key, another event another key."""
from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from integrations.zoom.event_keys import event_key
from integrations.zoom.events import parse_event
from tests.conftest import load_fixture

MEETING = load_fixture("zoom/session_reconnect_recording_visitor.json")
RTMS = {
    "event": "meeting.rtms_started", "event_ts": 1795168801000,
    "payload": {"meeting_uuid": "mN4x+Qz8TgW0b1Kc9vYp2A==", "operator_id": "op", "rtms_stream_id": "st-1", "server_urls": "wss://h/x"},
}


def key(body: dict[str, Any]) -> str:
    parsed = parse_event(body)
    assert parsed is not None
    (event,) = parsed.events
    return event_key(parsed.name, event)


def changed(body: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    change(body)
    return body


def obj(body: dict[str, Any]) -> dict[str, Any]:
    return body["payload"]["object"]


def person(body: dict[str, Any]) -> dict[str, Any]:
    return obj(body)["participant"]


def set_(get: Callable[[dict[str, Any]], dict[str, Any]], field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda body: get(body).__setitem__(field, value)


SAME_EVENT = {
    "event_ts": set_(lambda b: b, "event_ts", 1795999999999),
    "topic": set_(obj, "topic", "Renamed"),
    "account": set_(lambda b: b["payload"], "account_id", "another"),
}
WHO = {"participant_uuid": "OTHER-UUID", "user_id": "99999999", "id": "other-account"}


@pytest.mark.parametrize("index", range(len(MEETING)))
@pytest.mark.parametrize("change", SAME_EVENT)
def test_the_same_event_with_another_envelope_has_the_same_key(index, change):
    body = MEETING[index]
    if parse_event(body) is None:
        return
    assert key(changed(body, SAME_EVENT[change])) == key(body)


def test_a_participant_event_is_keyed_by_who_and_its_own_time_not_the_name_shown():
    joined = next(b for b in MEETING if b["event"] == "meeting.participant_joined")
    assert key(changed(joined, set_(person, "user_name", "Someone"))) == key(joined)
    for field, value in WHO.items():
        assert key(changed(joined, set_(person, field, value))) != key(joined), field
    assert key(changed(joined, set_(person, "join_time", "2026-11-20T10:00:06Z"))) != key(joined)
    assert key(changed(joined, set_(obj, "uuid", "another-occurrence=="))) != key(joined)
    left = changed(joined, lambda b: b.__setitem__("event", "meeting.participant_left"))
    left = changed(left, set_(person, "leave_time", person(joined)["join_time"]))
    assert key(left) != key(joined)  # a leave at the same second is another event


def test_a_stream_started_again_is_a_new_event():
    again = changed(RTMS, set_(lambda b: b, "event_ts", RTMS["event_ts"] + 5000))
    assert key(again) != key(RTMS)
    assert key(changed(RTMS, set_(lambda b: b["payload"], "rtms_stream_id", "st-2"))) != key(RTMS)


def test_keys_fit_the_column_and_differ_from_the_old_whole_body_hashes():
    keys = {key(b) for b in MEETING if parse_event(b) is not None}
    assert len(keys) == len([b for b in MEETING if parse_event(b) is not None])
    assert all(len(k) <= 80 and k.startswith("z2:") for k in keys)


def test_keys_are_those_stored_before_known_answers():
    # Made by the rule's first version (a sha256 of `json.dumps` of the identity): a redelivery of an event stored then
    # must get the same key, or it is stored twice. The last is keyed by a display name with quotes, a backslash,
    # a line break and text outside ASCII (no id to go by).
    joined = next(b for b in MEETING if b["event"] == "meeting.participant_joined")
    nameless = changed(joined, lambda b: [person(b).pop(field) for field in WHO])
    nameless = changed(nameless, set_(person, "user_name", 'Zoë "Z" \\ \n 日本'))
    assert [key(MEETING[0]), key(joined), key(nameless)] == [
        "z2:5c7d1e5dd5c3718211b93c3d1e47010abb5aec48f74d78bfde22a028b0f551db",
        "z2:6bf3b2f52092d1e9c5c96f48cfaf4a1381efc2c91b061793687bb8f941972361",
        "z2:572da3e28ccc09819acf30d6c67bb61c5d491c2f9c2bbc288ea0720985525105",
    ]
