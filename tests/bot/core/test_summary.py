"""The summary document and its Markdown and HTML renderings."""
from __future__ import annotations

import re

from bot.core.alerts import AlertSettings, find_alerts
from bot.core.participants import RoleRules
from bot.core.record import ChecklistItem, Note
from bot.core.render import to_html, to_markdown
from bot.core.session import build_state
from bot.core.summary import SessionRecord, build_summary

from .builders import (
    CLIENT,
    MEETING,
    THERAPIST,
    at,
    ended,
    in_order,
    joined,
    left,
    started,
    video,
)

RULES = RoleRules(therapist_account_ids=frozenset({"HOST"}))
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def make(*events, now=None):
    state = build_state(MEETING, in_order(*events), RULES)
    now = now or at(4000)
    alerts = find_alerts(state, AlertSettings(), now)
    record = SessionRecord(
        "s1", "t1", "C-17",
        checklist=[ChecklistItem("dress", "Dressed as in the consulting room", at(-300)), ChecklistItem("bed", "No bed in view")],
        notes=[Note(at(900), "Client <moved> to a chair", "p1")],
    )
    return build_summary(record, state, alerts, now)


MEETING_EVENTS = [
    started(), joined(1, THERAPIST), joined(5, CLIENT),
    video(120, CLIENT, False), video(300, CLIENT, True), video(1500, CLIENT, False),
    left(1560, CLIENT), left(1600, THERAPIST), ended(1601),
]


def test_the_summary_has_every_field_with_utc_z_times():
    summary = make(*MEETING_EVENTS)
    assert summary["platform"] == "zoom"
    assert summary["meeting"] == {"id": "123", "uuid": "occ-1", "topic": None}  # a topic may name someone: never shown
    assert (summary["started_at"], summary["ended_at"], summary["duration_seconds"]) == ("2026-11-20T10:00:00Z", "2026-11-20T10:26:41Z", 1601)
    assert summary["client_video"] == {
        "off_intervals": [
            {"start": "2026-11-20T10:02:00Z", "end": "2026-11-20T10:05:00Z", "seconds": 180},
            {"start": "2026-11-20T10:25:00Z", "end": "2026-11-20T10:26:00Z", "seconds": 60},
        ],
        "off_count": 2,
        "off_total_seconds": 240,
        "longest_off_seconds": 180,
    }
    assert [a["kind"] for a in summary["alerts"]] == ["client_video_off", "client_video_off"]
    assert summary["checklist"]["total"] == 2 and summary["checklist"]["confirmed"] == 1
    assert summary["notes"] == [{"at": "2026-11-20T10:15:00Z", "text": "Client <moved> to a chair", "prompt_id": "p1"}]
    times = [summary["started_at"], summary["ended_at"]] + [a["at"] for a in summary["alerts"]] + [t["at"] for t in summary["timeline"]]
    assert all(ISO_Z.match(t) for t in times)


def test_an_unfinished_session_is_summarised_as_of_now():
    summary = make(started(), joined(5, CLIENT), video(100, CLIENT, False), now=at(400))
    assert summary["status"] == "in_progress" and summary["ended_at"] is None
    assert summary["client_video"]["off_intervals"] == [{"start": "2026-11-20T10:01:40Z", "end": None, "seconds": 300}]


def test_markdown_shows_local_time_and_the_facts():
    text = to_markdown(make(*MEETING_EVENTS), "Europe/London")
    assert "2026-11-20 10:02:00 GMT to 2026-11-20 10:05:00 GMT: 3 min 00 s" in text
    assert "2 interval(s), 4 min 00 s in all, longest 3 min 00 s" in text
    assert "[x] Dressed as in the consulting room" in text and "[ ] No bed in view" in text
    new_york = to_markdown(make(*MEETING_EVENTS), "America/New_York")
    assert "2026-11-20 05:02:00 EST" in new_york


def test_html_escapes_every_value():
    page = to_html(make(*MEETING_EVENTS), "Europe/London")
    assert "Client &lt;moved&gt; to a chair" in page and "<moved>" not in page
    assert page.startswith("<!doctype html>")
