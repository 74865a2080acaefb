"""bot/core/listing.py: a session's list entry is what its summary says, a kept entry is checked, and the profiles' mark."""
from __future__ import annotations

import dataclasses

import pytest

from bot.config.settings_file import parse_settings
from bot.core import events as ev
from bot.core.alerts import AlertSettings, find_alerts
from bot.core.listing import SessionIdentity, listed, listing_json, profiles_mark, readable
from bot.core.participants import RoleRules
from bot.core.session import build_state
from bot.core.settings import ClientProfile, PrivacySettings, Settings
from bot.core.summary import SessionRecord, build_summary
from tests.bot.core.builders import CLIENT, MEETING, THERAPIST, VISITOR, at, ended, in_order, joined, left, started, video
from tests.conftest import settings_dict

RULES = RoleRules(therapist_account_ids=frozenset({"HOST"}))
CLOSED = ev.SessionClosed(MEETING, at(4000), reason="watchdog")
SESSIONS = {
    "ended": [started(), joined(5, THERAPIST), joined(20, CLIENT), video(60, CLIENT, False), video(200, CLIENT, True), left(3000, CLIENT), ended(3010)],
    "live": [started(), joined(5, THERAPIST), joined(20, CLIENT), video(60, CLIENT, False)],
    "no start reported": [joined(7, THERAPIST), joined(9, CLIENT), joined(30, VISITOR), left(40, VISITOR)],
    "closed by the watchdog": [started(), joined(5, THERAPIST), CLOSED],
    "ended twice, the later wins": [started(), joined(5, THERAPIST), ended(100), ended(90)],
    "nothing yet": [],
}


@pytest.mark.parametrize("events", SESSIONS.values(), ids=SESSIONS.keys())
@pytest.mark.parametrize("code", ["C-17", None])
def test_the_entry_is_what_the_summary_says(events, code):
    state = build_state(MEETING, in_order(*events), RULES)
    now = at(5000)
    summary = build_summary(SessionRecord("s1", "t1", code), state, find_alerts(state, AlertSettings(), now), now)
    identity = SessionIdentity("s1", MEETING.platform, MEETING.meeting_id, MEETING.occurrence_id)
    shown = listing_json(identity, listed(state, code))
    assert shown == {k: summary[k] for k in ("session_id", "platform", "meeting", "client_code", "status", "started_at", "ended_at")}
    assert list(shown) == ["session_id", "platform", "meeting", "client_code", "status", "started_at", "ended_at"]  # the answer's order
    entry = listed(state, code)
    assert readable(entry.client_code, entry.status, entry.started_at, entry.ended_at) == entry  # what is kept reads back


@pytest.mark.parametrize("row", [
    ("C-1", "finished", None, None),  # no such status
    ("C-1", "ended", "2026-11-20T10:00:00Z", None),  # ended without an end
    ("C-1", "in_progress", None, "2026-11-20T10:00:00Z"),  # live with one
    ("C-1", "in_progress", "2026-11-20 10:00:00", None),  # not as the summary writes times
    ("C-1", "in_progress", "2026-13-20T10:00:00Z", None),  # shaped right, no such month
    ("C-1", "in_progress", "2026-11-20T10:00:00.5Z", None),
    ("C-1", "in_progress", "２０２６-11-20T10:00:00Z", None),  # other digits
    ("C-1", "in_progress", 1764669600, None),
    (17, "in_progress", None, None),  # a code that is not text
    (None, None, None, None),
])
def test_a_kept_entry_that_listed_could_not_have_made_is_not_read(row):
    assert readable(*row) is None


def _settings(*clients: ClientProfile) -> Settings:
    base = parse_settings(settings_dict("sqlite+aiosqlite:///x.db"), {})
    return dataclasses.replace(base, clients=clients, privacy=PrivacySettings(data_key="a data key of the tests, 32 chars+"))


def test_the_mark_moves_with_what_decides_a_code_and_with_nothing_else():
    profile = ClientProfile("C-1", "t1", zoom_meeting_ids=("111",), emails=("a@example.org",))
    mark = profiles_mark(_settings(profile), "t1")
    assert profiles_mark(_settings(profile), "t1") == mark  # the same profiles, the same mark
    assert len(mark) == 64 and "a@example.org" not in mark
    for changed in (
        dataclasses.replace(profile, zoom_meeting_ids=("111", "222")),
        dataclasses.replace(profile, linked_meeting_ids=("333",)),
        dataclasses.replace(profile, emails=()),
        dataclasses.replace(profile, email_digests=("d",)),
        dataclasses.replace(profile, name_digests=("d",)),
        dataclasses.replace(profile, entra_ids=("e",)),
        dataclasses.replace(profile, code="C-2"),
    ):
        assert profiles_mark(_settings(changed), "t1") != mark, changed
    second = ClientProfile("C-2", "t1", zoom_meeting_ids=("444",))
    assert profiles_mark(_settings(profile, second), "t1") != profiles_mark(_settings(second, profile), "t1")  # the first match wins
    assert profiles_mark(_settings(dataclasses.replace(profile, flags=("animals",), mode="face_to_face")), "t1") == mark
    # Another therapist's profiles are not this therapist's business.
    assert profiles_mark(_settings(profile, ClientProfile("C-9", "t2", zoom_meeting_ids=("999",))), "t1") == mark
    therapists = tuple(dataclasses.replace(t, zoom_user_id="another account") for t in _settings(profile).therapists)
    assert profiles_mark(dataclasses.replace(_settings(profile), therapists=therapists), "t1") != mark  # who is the therapist
    keyed = dataclasses.replace(_settings(profile), privacy=PrivacySettings(data_key="another data key of the tests, 32+"))
    assert profiles_mark(keyed, "t1") != mark
