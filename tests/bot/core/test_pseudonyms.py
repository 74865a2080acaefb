"""People by role in what the therapist reads: the therapist, the client's code, others numbered; no topic."""
from __future__ import annotations

import json

from bot.core import events as ev
from bot.core.participants import RoleRules
from bot.core.pseudonyms import role_labels
from bot.core.session import build_state
from bot.core.summary import SessionRecord, build_summary

from .builders import MEETING, at, ended, in_order, joined, left, started

THERAPIST = ev.ParticipantRef(user_id="100", stable_id="uuid-t", account_id="HOST", name="Dr Ruth Example")
CLIENT = ev.ParticipantRef(user_id="200", stable_id="uuid-c", name="Sam Client")
VISITOR = ev.ParticipantRef(user_id="300", stable_id="uuid-v", name="Alex Visitor")
SECOND_VISITOR = ev.ParticipantRef(user_id="400", stable_id="uuid-w", name="Wanda Visitor")
EVENTS = [started(), joined(1, THERAPIST), joined(5, CLIENT), joined(9, VISITOR), joined(12, SECOND_VISITOR), left(20, VISITOR), ended(60)]
NAMES = [THERAPIST.name, CLIENT.name, VISITOR.name, SECOND_VISITOR.name]


def summary(client_code, names=False):
    state = build_state(MEETING, in_order(*EVENTS), RoleRules(therapist_account_ids=frozenset({"HOST"})))
    return build_summary(SessionRecord("s1", "t1", client_code), state, [], at(60), names)


def test_people_are_role_labels_everywhere_and_there_is_no_topic():
    built = summary("C-17")
    assert [p["name"] for p in built["participants"]] == ["Therapist", "C-17", "Other person 1", "Other person 2"]
    joins = [t["name"] for t in built["timeline"] if t["event"] == "participant_joined"]
    assert joins == ["Therapist", "C-17", "Other person 1", "Other person 2"]
    assert [t["name"] for t in built["timeline"] if t["event"] == "participant_left"] == ["Other person 1"]
    assert built["meeting"]["topic"] is None
    text = json.dumps(built)
    assert not [n for n in NAMES if n in text] and "display_name" not in text


def test_an_unmatched_client_is_the_client():
    assert summary(None)["participants"][1]["name"] == "the client"


def test_names_on_the_therapists_own_screen_are_beside_the_labels_never_instead():
    built = summary("C-17", names=True)
    assert [(p["name"], p["display_name"]) for p in built["participants"]] == list(zip(["Therapist", "C-17", "Other person 1", "Other person 2"], NAMES, strict=True))
    assert "display_name" not in json.dumps(built["timeline"])


def test_others_are_numbered_in_the_order_given():
    assert role_labels(["other", "client", "therapist", "other"], None) == ["Other person 1", "the client", "Therapist", "Other person 2"]
