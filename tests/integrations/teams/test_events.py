"""Parsing meetingCallEvents payloads (current and older documented shapes) and turning roster changes into events."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.core import events as ev
from integrations.teams.events import CALL, LOBBY, CallEventFormatError, parse_call_event, places, roster_events
from tests.fakes.graph_notifications import call_event, participant

URL = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_QUJD%40thread.v2/0?context=%7b%7d"
AT = datetime(2025, 3, 4, 14, 0, tzinfo=timezone.utc)
MEETING = ev.MeetingRef("teams", "m@1", "m")


def test_the_current_shape_gives_places_and_identities():
    payload = call_event(URL, "rosterUpdated", "2025-03-04T14:00:00.0000000Z", "n1", [
        participant("p1", "entra-1", "A Person"), participant("p2", None, "Guest", lobby=True), participant("p3", "entra-3", "Gone", left=True),
    ])
    parsed = parse_call_event(payload)
    assert parsed.name == "rosterUpdated" and parsed.at == AT
    assert [(e.participant.user_id, e.participant.account_id, e.place) for e in parsed.roster] == [("p1", "entra-1", CALL), ("p2", "", LOBBY), ("p3", "entra-3", None)]
    assert parsed.roster[1].participant.name == "Guest"


@pytest.mark.parametrize("name", ["callStarted", "Microsoft.Communication.CallStarted", "{Microsoft.Communication.CallStarted}"])
def test_every_documented_spelling_of_an_event_name_is_read(name):
    assert parse_call_event({"eventType": name, "eventDateTime": "2025-03-04T14:00:00Z"}).name == "callStarted"
    assert parse_call_event({"callEventType": name, "eventDateTime": "2025-03-04T14:00:00Z"}).name == "callStarted"


def test_the_older_joined_and_exited_lists_are_read_whatever_their_case():
    payload = {
        "eventType": "Microsoft.Communication.CallRosterUpdate", "eventDateTime": "2025-03-04T14:00:00Z",
        "activeParticipants@joined": [{"Id": "p1", "Identity": {"User": {"Id": "entra-1", "DisplayName": "A"}}}],
        "activeParticipants@exited": [{"Id": "p2", "Identity": {"AzureCommunicationServicesUser": {"Id": "8:acs:x", "DisplayName": "B"}}}],
    }
    roster = parse_call_event(payload).roster
    assert [(e.participant.user_id, e.participant.account_id, e.participant.name, e.place) for e in roster] == [("p1", "entra-1", "A", CALL), ("p2", "", "B", None)]


@pytest.mark.parametrize("payload", [[], {}, {"eventType": "callStarted"}, {"eventType": "callStarted", "eventDateTime": "soon"},
                                     {"eventType": "rosterUpdated", "eventDateTime": "2025-03-04T14:00:00Z", "participants@delta": {}},
                                     {"eventType": "rosterUpdated", "eventDateTime": "2025-03-04T14:00:00Z", "participants@delta": [{"info": {}}]}])
def test_malformed_payloads_are_refused_naming_the_field(payload):
    with pytest.raises(CallEventFormatError):
        parse_call_event(payload)


def test_other_event_types_are_not_used():
    assert parse_call_event({"eventType": "callRecordingStarted", "eventDateTime": "2025-03-04T14:00:00Z"}) is None


@pytest.mark.parametrize(("was", "now", "kinds"), [
    (None, CALL, ["participant_joined"]), (None, LOBBY, ["waiting_room_joined"]), (LOBBY, CALL, ["participant_admitted", "participant_joined"]),
    (CALL, LOBBY, ["participant_left", "waiting_room_joined"]), (CALL, None, ["participant_left"]), (LOBBY, None, ["waiting_room_left"]),
    (CALL, CALL, []), (None, None, ["participant_left"]),
])
def test_a_move_becomes_the_events_zoom_would_send_and_places_follow_them(was, now, kinds):
    entry = parse_call_event(call_event(URL, "rosterUpdated", "2025-03-04T14:00:00Z", "n", [participant("p1", "e1", "A", lobby=now == LOBBY, left=now is None)])).roster[0]
    events = roster_events(MEETING, AT, entry, was)
    assert [e.kind for e in events] == kinds
    earlier = AT - timedelta(minutes=1)
    before = [ev.ParticipantJoined(MEETING, earlier, participant=entry.participant)] if was == CALL else [ev.WaitingRoomJoined(MEETING, earlier, participant=entry.participant)] if was == LOBBY else []
    assert places(before + events).get("p1") == now

