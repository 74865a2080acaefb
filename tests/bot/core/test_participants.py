"""Roles and presence: the host is the therapist, the first other person the client, reconnects merge."""
from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.events import ParticipantRef
from bot.core.participants import RoleRules, Roster, _same_person
from bot.core.session import build_state

from .builders import (
    CLIENT,
    CLIENT_AGAIN,
    MEETING,
    THERAPIST,
    VISITOR,
    at,
    ended,
    in_order,
    joined,
    left,
    started,
)

RULES = RoleRules(therapist_account_ids=frozenset({"HOST"}))


def roles(state) -> dict[str, str]:
    return {p.name: p.role for p in state.roster.people}


def test_host_is_therapist_first_other_is_client_and_the_rest_are_others():
    state = build_state(MEETING, in_order(started(), joined(1, THERAPIST), joined(5, CLIENT), joined(9, VISITOR)), RULES)
    assert roles(state) == {"Therapist": "therapist", "Client": "client", "Visitor": "other"}


def test_the_client_is_the_first_to_join_by_time_not_by_arrival():
    events = in_order(joined(9, VISITOR), joined(5, CLIENT), joined(1, THERAPIST))
    assert roles(build_state(MEETING, events, RULES))["Client"] == "client"


def test_a_client_profile_match_wins_over_join_order():
    email = hashlib.sha256(b"client@example.org").hexdigest()
    client = ParticipantRef(user_id="200", stable_id="uuid-c", name="Client", email_hash=email)
    rules = RoleRules(frozenset({"HOST"}), client_email_hashes=frozenset({email}))
    state = build_state(MEETING, in_order(joined(1, VISITOR), joined(5, client)), rules)
    assert roles(state) == {"Visitor": "other", "Client": "client"}


def test_reconnects_with_a_new_user_id_are_one_person_with_two_intervals():
    events = in_order(joined(5, CLIENT), left(100, CLIENT), joined(130, CLIENT_AGAIN), left(200, CLIENT_AGAIN))
    state = build_state(MEETING, events, RULES)
    (client,) = state.roster.people
    assert [(i.joined_at, i.left_at) for i in client.intervals] == [(at(5), at(100)), (at(130), at(200))]


def test_a_reconnect_in_the_same_second_and_a_duplicate_join_stay_one_interval():
    events = in_order(joined(5, CLIENT), joined(5, CLIENT), left(100, CLIENT), joined(100, CLIENT_AGAIN), ended(300))
    (client,) = build_state(MEETING, events, RULES).roster.people
    assert [(i.joined_at, i.left_at) for i in client.intervals] == [(at(5), at(300))]


def test_guests_without_ids_are_told_apart_by_name():
    roster = Roster()
    a = roster.person(ParticipantRef(user_id="1", name="Guest A"))
    b = roster.person(ParticipantRef(user_id="2", name="Guest B"))
    assert a is not b
    assert roster.find(ParticipantRef(user_id="9", name="Guest A")) is a
    assert roster.find(ParticipantRef(user_id="2")) is b


def test_open_intervals_close_at_the_meeting_end():
    state = build_state(MEETING, in_order(started(), joined(1, THERAPIST), ended(60)), RULES)
    assert state.roster.people[0].intervals[0].left_at == at(60)


def test_the_client_is_recognised_by_their_entra_id_in_a_teams_roster():
    rules = RoleRules(client_account_ids=frozenset({"048c94fb-dda6-48b8-9fc8-6740ee418fb9"}))
    assert rules.looks_like_client(ParticipantRef(stable_id="048c94fb-dda6-48b8-9fc8-6740ee418fb9", name="Anyone"))
    assert not rules.looks_like_client(ParticipantRef(stable_id="another-id"))
    assert not RoleRules().looks_like_client(ParticipantRef())  # no ids on either side is no match


_ID_VALUES = st.sampled_from(["", "a", "b"])
_REFS = st.builds(ParticipantRef, user_id=_ID_VALUES, stable_id=_ID_VALUES, account_id=_ID_VALUES, name=_ID_VALUES, name_digest=_ID_VALUES)


@settings(max_examples=300, deadline=None)
@given(st.lists(_REFS, max_size=12), _REFS)
def test_the_indexed_look_up_finds_whom_a_scan_of_everyone_in_joining_order_finds(added, asked):
    roster = Roster()
    for ref in added:
        roster.person(ref)
    scanned = next((p for p in roster.people if any(_same_person(asked, known) for known in p.refs)), None)
    assert roster.find(asked) is scanned
