"""The camera and framing changes of a session, their prompts' wording, and how the summary shows their notes."""
from __future__ import annotations

from bot.core import events as ev
from bot.core.changes import session_changes, with_notes
from bot.core.participants import RoleRules
from bot.core.prompts import PromptSettings, asks, note_prompt
from bot.core.record import Note
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
LONDON = "Europe/London"


def framing(s: float, change: str, source: str = "analysis", detail: str = "") -> ev.FramingChanged:
    return ev.FramingChanged(MEETING, at(s), change=change, detail=detail, source=source)


def changes_of(*events, now=None):
    state = build_state(MEETING, in_order(*events), RULES)
    return state, session_changes(state, now or at(4000))


EVENTS = [
    started(), joined(1, THERAPIST), joined(5, CLIENT),
    video(120, CLIENT, False), video(300, CLIENT, True),  # 3 min: asks
    framing(400, "lying_down"),
    video(500, CLIENT, False), video(510, CLIENT, True),  # 10 s: in the record, asks nothing
    video(1500, CLIENT, False), left(1560, CLIENT), ended(1601),
]


def test_every_camera_off_interval_and_framing_change_is_a_change_in_time_order():
    _, changes = changes_of(*EVENTS)
    assert [(c.kind, c.source, c.detail) for c in changes] == [
        ("camera_off", "camera", "off for 3 min, until the camera came back on"),
        ("lying_down", "analysis", ""),
        ("camera_off", "camera", "off for 10 s, until the camera came back on"),
        ("camera_off", "camera", "off for 1 min, until the client left"),
    ]
    assert len({c.id for c in changes}) == 4


def test_a_camera_off_interval_asks_only_once_over_and_at_least_the_minimum():
    settings = PromptSettings(camera_off_min_seconds=20)
    _, changes = changes_of(*EVENTS)
    assert [asks(c, settings) for c in changes] == [True, True, False, True]
    _, still_off = changes_of(started(), joined(5, CLIENT), video(100, CLIENT, False), now=at(400))
    assert still_off[0].detail == "off for 5 min, so far" and not asks(still_off[0], settings)


def test_prompts_are_worded_for_the_therapist_in_their_local_time():
    _, changes = changes_of(*EVENTS, framing(700, "hands_out_of_view", "therapist", "Kept hands under the desk"))
    words = [note_prompt("s1", c, LONDON).message for c in changes]
    assert words[0] == "The client's camera was off for 3 min (10:02-10:05). What were they doing?"
    assert words[1] == "The client seems to be lying down (10:06). Anything to note?"
    assert words[3] == "You marked a change at 10:11: hands out of view. Anything to note?"  # never the detail text
    assert words[4] == "The client's camera was off for 1 min (10:25-10:26), until they left. What were they doing?"
    summer = changes_of(started(), joined(5, CLIENT), video(60, CLIENT, False), ended(300))[1][0]
    assert note_prompt("s1", summer, "America/New_York").message.endswith("(05:01-05:05), until the meeting ended. What were they doing?")
    assert note_prompt("s1", changes[0], LONDON).key == f"s1:note_prompt:{changes[0].id}"


def summary_with(notes, prompt_ids):
    state, changes = changes_of(*EVENTS)
    record = SessionRecord("s1", "t1", "C-17", notes=notes, framing_changes=with_notes(changes, prompt_ids, notes))
    return build_summary(record, state, [], at(4000)), changes


def test_a_note_answering_a_prompt_is_shown_against_its_change_in_all_three_formats():
    _, changes = changes_of(*EVENTS)
    prompt_ids = {changes[0].id: 7, changes[1].id: 8, changes[3].id: 9}
    summary, _ = summary_with([Note(at(320), "Said they went to fetch water", "7"), Note(at(330), "unrelated")], prompt_ids)
    first = summary["framing_changes"][0]
    assert first == {
        "id": changes[0].id, "at": "2026-11-20T10:02:00Z", "kind": "camera_off",
        "detail": "off for 3 min, until the camera came back on", "source": "camera", "prompt_id": "7",
        "note": "Said they went to fetch water",
    }
    assert [c["note"] for c in summary["framing_changes"]] == ["Said they went to fetch water", None, None, None]
    assert [c["prompt_id"] for c in summary["framing_changes"]] == ["7", "8", None, "9"]
    assert summary["unanswered_changes"] == 3
    md, page = to_markdown(summary, LONDON), to_html(summary, LONDON)
    line = "2026-11-20 10:02:00 GMT: Camera off: off for 3 min, until the camera came back on (camera). Note: Said they went to fetch water"
    assert line in md and line in page
    assert "Lying down (seen by the framing analysis). No note: unanswered." in md
    assert "Camera off: off for 10 s, until the camera came back on (camera). No note (no prompt was raised)." in md
    assert "3 of 4 change(s) have no note." in md and "3 of 4 change(s) have no note." in page
    assert "None recorded." not in md


def test_a_session_without_changes_says_none_recorded():
    state, changes = changes_of(started(), joined(5, CLIENT), ended(100))
    summary = build_summary(SessionRecord("s1", "t1", framing_changes=with_notes(changes, {}, [])), state, [], at(100))
    assert summary["framing_changes"] == [] and summary["unanswered_changes"] == 0
    assert "- None recorded." in to_markdown(summary, LONDON)


def test_two_camera_off_intervals_are_not_none_recorded():
    state, changes = changes_of(*EVENTS)
    summary = build_summary(SessionRecord("s1", "t1", framing_changes=with_notes(changes, {}, [])), state, [], at(4000))
    assert len(summary["framing_changes"]) == 4 and summary["unanswered_changes"] == 4
    assert "Framing and camera changes\n\n- None recorded." not in to_markdown(summary, LONDON)


def test_a_note_answering_a_prompt_says_which_change_it_is_about_in_the_notes():
    _, changes = changes_of(*EVENTS)
    summary, _ = summary_with([Note(at(320), "Fetched water", "7")], {changes[0].id: 7})
    assert "- 2026-11-20 10:05:20 GMT: Fetched water (about the change at 2026-11-20 10:02:00 GMT)" in to_markdown(summary, LONDON)
