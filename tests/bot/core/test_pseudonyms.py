"""People by role in what the therapist reads: the therapist, the client's code, others numbered; no topic."""
from __future__ import annotations

from bot.core.pseudonyms import pseudonymous


def summary(client_code):
    people = [("Dr Ruth", "therapist"), ("Sam Client", "client"), ("Visitor A", "other"), ("Visitor B", "other")]
    return {
        "client_code": client_code,
        "meeting": {"id": "1", "uuid": "u", "topic": "Session with Sam Client"},
        "participants": [{"name": n, "role": r, "intervals": []} for n, r in people],
        "timeline": [{"at": "x", "event": "participant_joined", "role": r, "name": n} for n, r in people] + [{"at": "x", "event": "meeting_started", "role": None, "name": None}],
    }


def test_names_become_role_labels_everywhere_and_the_topic_goes():
    original = summary("C-17")
    shown = pseudonymous(original)
    assert [p["name"] for p in shown["participants"]] == ["Therapist", "C-17", "Other person 1", "Other person 2"]
    assert [t["name"] for t in shown["timeline"]] == ["Therapist", "C-17", "Other person 1", "Other person 2", None]
    assert shown["meeting"]["topic"] is None
    assert original["participants"][1]["name"] == "Sam Client"  # the summary itself is left as it was


def test_an_unmatched_client_is_the_client():
    assert pseudonymous(summary(None))["participants"][1]["name"] == "the client"
