"""Reading the calling bot's callbacks, and turning cameras into VideoStateChanged (integrations/teams/call_roster.py)."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest

from bot.core import events as ev
from bot.core.digests import digested
from integrations.teams.call_roster import (
    CallbackFormatError,
    CallNotification,
    RosterUpdate,
    as_roster_person,
    camera_changes,
    camera_on,
    in_order,
    parse_callback,
    parse_participant,
)
from integrations.teams.events import CallEventFormatError
from tests.conftest import DATA_KEY, load_fixture
from tests.fakes.graph_calls import call_participant, roster

CALL = "421f4c00-1b5a-4d2e-9f7c-6a1d2e3f4a5b"
THERAPIST, CLIENT = "3f1c2d9e-0000-4a6b-9c1d-7e2f5a6b8c01", "c11e47aa-5b2f-4f0e-8d3c-1a2b3c4d5e6f"
MEETING = ev.MeetingRef("teams", "jmeeting@20261120T100000", "jmeeting", THERAPIST)
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def test_a_whole_roster_names_each_participant_their_camera_and_the_application():
    (notification,) = parse_callback(load_fixture("teams/calls_participants_updated.json"), 50)
    assert notification.call_id == CALL and notification.state is None
    update = notification.roster
    assert update is not None and update.complete and update.sequence is None and update.gone == ()
    seen = [(p.ref.user_id[:8], p.ref.stable_id, p.camera_on, p.application_id) for p in update.present]
    assert seen == [
        ("7a1b2c3d", THERAPIST, True, ""),
        ("8b2c3d4e", CLIENT, False, ""),  # receiveOnly: the camera is not sending
        ("9c3d4e5f", "", True, ""),  # a guest, sendOnly
        ("0d4e5f6a", "", False, "graph-app-id"),  # the bot itself: no video stream at all
    ]
    assert update.present[2].ref.name == "Visiting Guest" and update.present[1].ref.account_id == CLIENT


def test_a_delta_carries_its_sequence_number_and_who_left():
    (notification,) = parse_callback(load_fixture("teams/calls_participants_delta.json"), 50)
    update = notification.roster
    assert update is not None and not update.complete and update.sequence == 17
    assert [(p.ref.stable_id, p.camera_on) for p in update.present] == [(CLIENT, False)]  # inactive
    assert [p.ref.name for p in update.gone] == ["Visiting Guest"]


def test_call_states_and_their_result_and_notifications_about_other_things_are_left_out():
    (established,) = parse_callback(load_fixture("teams/calls_established.json"), 50)  # the content sharing one is left out
    assert established.call_id == CALL and established.roster is None
    assert established.state is not None and (established.state.state, established.state.result) == ("established", "")
    (ended,) = parse_callback(load_fixture("teams/calls_terminated_lobby.json"), 50)
    assert ended.state is not None and (ended.state.state, ended.state.code, ended.state.subcode) == ("terminated", "0", "5855")
    assert ended.state.result == "0/5855"


@pytest.mark.parametrize(
    "streams, on",
    [
        ([{"mediaType": "video", "direction": "sendReceive"}], True),
        ([{"mediaType": "Video", "direction": "sendonly"}], True),
        ([{"mediaType": "video", "direction": "receiveOnly"}], False),
        ([{"mediaType": "video", "direction": "inactive"}], False),
        ([{"mediaType": "audio", "direction": "sendReceive"}], False),
        ([{"mediaType": "videoBasedScreenSharing", "direction": "sendOnly"}], False),  # a shared screen is not the camera
        ([], False),
        (None, False),
        (["junk", {"mediaType": "video"}], False),
    ],
)
def test_the_camera_is_on_only_while_a_video_stream_sends(streams, on):
    entry = {"id": "p1"} if streams is None else {"id": "p1", "mediaStreams": streams}
    assert camera_on(entry) is on


def test_the_deleted_change_lists_who_left_and_a_created_one_who_came():
    left = parse_callback({"value": [roster(CALL, [call_participant("p1", CLIENT, "C")], change="deleted")]}, 50)[0].roster
    came = parse_callback({"value": [roster(CALL, [call_participant("p1", CLIENT, "C")], change="created")]}, 50)[0].roster
    assert left is not None and left.present == () and [p.ref.user_id for p in left.gone] == ["p1"]
    assert came is not None and not came.complete and [p.ref.user_id for p in came.present] == ["p1"]


def test_app_prefixed_resource_urls_are_read_too():
    body = {"value": [{"changeType": "updated", "resourceUrl": f"/app/calls/{CALL}", "resourceData": {"state": "Establishing"}}]}
    (notification,) = parse_callback(body, 50)
    assert notification.call_id == CALL and notification.state.state == "establishing"


@pytest.mark.parametrize(
    "body, problem",
    [
        ({}, "value is not a list"),
        ({"value": []}, "value is not a list"),
        ({"value": [1]}, "is not an object"),
        ({"value": [{"resourceUrl": f"/communications/calls/{CALL}"}] * 51}, "1 to 50"),
        ({"value": [roster(CALL, [{"info": {}}])]}, "has no id"),
        ({"value": [roster(CALL, ["x"])]}, "not an object"),
        ({"value": [{**roster(CALL, []), "resourceData": "x"}]}, "not a participant list"),
        ({"value": [{**roster(CALL, [], delta=True, sequence=1), "sequenceNumber": "one"}]}, "sequenceNumber"),
        ({"value": [roster(CALL, [call_participant(f"p{n}") for n in range(501)])]}, "at most 500"),
    ],
)
def test_a_callback_not_shaped_as_graph_sends_it_is_refused_naming_the_field(body, problem):
    with pytest.raises(CallbackFormatError) as refused:
        parse_callback(body, 50)
    assert problem in str(refused.value)


def test_an_id_too_long_is_refused_without_quoting_it():
    entry = call_participant("p" * 300)
    with pytest.raises(CallEventFormatError) as refused:
        parse_participant(entry)
    assert "p" * 300 not in str(refused.value)


def test_rosters_of_a_batch_are_put_in_sequence_order_leaving_the_rest_in_place():
    def update(n: int | None) -> CallNotification:
        return CallNotification(CALL, roster=RosterUpdate(False, n))

    state = CallNotification(CALL)
    listed = [update(7), state, update(5), update(None), update(6)]
    assert [n.roster.sequence if n.roster else "state" for n in in_order(listed)] == [5, "state", 6, None, 7]


# As the store returns them: a name by its keyed digest only (bot/storage/at_rest.py).
KNOWN = [
    digested(ref, DATA_KEY, keep_name=False)
    for ref in (
        ev.ParticipantRef(user_id="p-cli", stable_id=CLIENT, account_id=CLIENT, name="Sam Client"),
        ev.ParticipantRef(user_id="p-vis", name="Visiting Guest"),
        ev.ParticipantRef(user_id="same-id", name="Someone"),
    )
]


def test_the_bots_participants_take_the_roster_events_ids():
    assert not any(k.name for k in KNOWN)
    by_entra = as_roster_person(ev.ParticipantRef(user_id="c-cli", stable_id=CLIENT, account_id=CLIENT, name="Sam C."), KNOWN, DATA_KEY)
    assert by_entra.user_id == "p-cli" and by_entra.stable_id == CLIENT
    # A guest by the keyed digest of the name heard; never by a digest made with another key.
    assert as_roster_person(ev.ParticipantRef(user_id="c-vis", name="Visiting Guest"), KNOWN, DATA_KEY).user_id == "p-vis"
    assert as_roster_person(ev.ParticipantRef(user_id="c-vis", name="Visiting Guest"), KNOWN, "another key").user_id == "c-vis"
    assert as_roster_person(ev.ParticipantRef(user_id="same-id", name="Other"), KNOWN, DATA_KEY).user_id == "same-id"
    stranger = ev.ParticipantRef(user_id="c-new", name="Nobody Known")
    assert as_roster_person(stranger, KNOWN, DATA_KEY) == stranger
    # Someone signed in is never taken for a guest who shares their display name.
    signed_in = ev.ParticipantRef(user_id="c-x", stable_id="0000aaaa-0000-4000-8000-000000000000", name="Visiting Guest")
    assert as_roster_person(signed_in, KNOWN, DATA_KEY).user_id == "c-x"


def roster_events() -> list[ev.MeetingEvent]:
    return [ev.ParticipantJoined(meeting=MEETING, at=T0, participant=KNOWN[0])]


def participants(*cameras: tuple[str, str | None, bool]) -> list:
    return [parse_participant(call_participant(pid, entra, "Sam Client", video="sendReceive" if on else "inactive")) for pid, entra, on in cameras]


def test_camera_changes_are_made_only_when_the_camera_changes():
    stored = roster_events()
    first = camera_changes(MEETING, T0 + timedelta(seconds=10), participants(("c-cli", CLIENT, False)), stored, {}, DATA_KEY)
    assert [(e.participant.user_id, e.on, e.at) for _, e in first] == [("p-cli", False, T0 + timedelta(seconds=10))]
    stored += [e for _, e in first]
    assert camera_changes(MEETING, T0 + timedelta(seconds=20), participants(("c-cli", CLIENT, False)), stored, {}, DATA_KEY) == []
    back = camera_changes(MEETING, T0 + timedelta(seconds=30), participants(("c-cli", CLIENT, True)), stored, {}, DATA_KEY)
    assert [(e.on, e.at) for _, e in back] == [(True, T0 + timedelta(seconds=30))]
    assert back[0][0] != first[0][0] and back[0][0].startswith("t1cam:")


def test_the_same_change_made_twice_has_one_key_so_one_row():
    stored = roster_events()
    a = camera_changes(MEETING, T0 + timedelta(seconds=10), participants(("c-cli", CLIENT, False)), stored, {}, DATA_KEY)
    b = camera_changes(MEETING, T0 + timedelta(seconds=11), participants(("c-cli", CLIENT, False)), stored, {}, DATA_KEY)
    assert a[0][0] == b[0][0]  # two instances handling one callback write the same key


def test_a_person_on_two_devices_sends_if_either_sends_and_a_change_in_the_same_instant_comes_after():
    stored = roster_events() + [ev.VideoStateChanged(meeting=MEETING, at=T0 + timedelta(seconds=5), participant=KNOWN[0], on=False)]
    both = participants(("c-cli-phone", CLIENT, False), ("c-cli-laptop", CLIENT, True))
    (change,) = camera_changes(MEETING, T0 + timedelta(seconds=5), both, stored, {}, DATA_KEY)
    assert change[1].on and change[1].at == T0 + timedelta(seconds=5, microseconds=1)


def test_a_fixture_roster_is_not_changed_by_parsing():
    body = load_fixture("teams/calls_participants_updated.json")
    before = copy.deepcopy(body)
    parse_callback(body, 50)
    assert body == before
