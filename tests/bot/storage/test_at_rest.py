"""What the store writes of an event: ids and times, keyed digests, sealed text; never an email or a name in the clear."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from bot.core import events as ev
from bot.core.digests import name_digest
from tests.conftest import DATA_KEY, storage_keys

MEETING = ev.MeetingRef("zoom", "occ==", "1", "HOST")
AT = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
SAM = ev.ParticipantRef(user_id="7", stable_id="uuid-7", name="Sam Client", email="sam@example.net")


def test_a_participant_is_written_by_ids_and_digests_and_read_back_so():
    keys = storage_keys()
    data = keys.event_data(ev.ParticipantJoined(MEETING, AT, participant=SAM))
    assert "Sam" not in data and "@" not in data and "email" not in json.loads(data)["participant"]
    back = keys.event_of(MEETING, 1, data).participant
    assert (back.user_id, back.stable_id, back.name, back.email, back.name_digest) == ("7", "uuid-7", "", "", name_digest("Sam Client", DATA_KEY))


def test_with_show_names_the_name_is_kept_sealed():
    keys = storage_keys(show_names=True)
    data = keys.event_data(ev.ParticipantJoined(MEETING, AT, participant=SAM))
    assert "Sam" not in data
    assert keys.event_of(MEETING, 1, data).participant.name == "Sam Client"


def test_a_marked_changes_detail_is_sealed():
    keys = storage_keys()
    data = keys.event_data(ev.FramingChanged(MEETING, AT, change="other", detail="At his mother's house", source="therapist"))
    assert "mother" not in data and keys.event_of(MEETING, 1, data).detail == "At his mother's house"


def test_a_platforms_key_made_from_a_name_alone_is_keyed_and_others_are_kept():
    keys = storage_keys()
    guest = ev.ParticipantJoined(MEETING, AT, participant=ev.ParticipantRef(name="Guest Name"))
    assert keys.event_key("z2:abc", guest).startswith("k1:") and "abc" not in keys.event_key("z2:abc", guest)
    assert keys.event_key("z2:abc", ev.ParticipantJoined(MEETING, AT, participant=SAM)) == "z2:abc"
    assert keys.event_key("z2:abc", ev.MeetingStarted(MEETING, AT)) == "z2:abc"
