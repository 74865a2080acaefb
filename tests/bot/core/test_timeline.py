"""The summary's timeline picture: rows, positions, markers, escaping, accessibility, and any summary at all."""
from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.alerts import AlertSettings, find_alerts
from bot.core.participants import RoleRules
from bot.core.record import FramingChange, Note
from bot.core.render import to_html, to_markdown
from bot.core.session import build_state
from bot.core.summary import SessionRecord, build_summary
from bot.core.timeline import COLOURS, LABEL_WIDTH, PLOT_WIDTH, timeline_svg

from .builders import CLIENT, MEETING, THERAPIST, VISITOR, at, ended, in_order, joined, left, started, video

SVG = "{http://www.w3.org/2000/svg}"
RULES = RoleRules(therapist_account_ids=frozenset({"HOST"}))
HOSTILE = "<script>alert(\"x\")</script> & 'q'"


def make(*events, now=None, changes=(), notes=(), client_code="C-17"):
    state = build_state(MEETING, in_order(*events), RULES)
    now = now or at(4000)
    record = SessionRecord("s1", "t1", client_code, notes=list(notes), framing_changes=list(changes))
    return build_summary(record, state, find_alerts(state, AlertSettings(), now), now)


SESSION = [
    started(), joined(1, THERAPIST), joined(5, CLIENT), joined(200, VISITOR), left(400, VISITOR),
    video(120, CLIENT, False), video(300, CLIENT, True), video(1500, CLIENT, False),
    left(1560, CLIENT), left(1600, THERAPIST), ended(1600),
]
CHANGES = [FramingChange(at(600), "lying_down", "lay on the bed", "Asked him to sit up", "c1", "analysis", "p1"),
           FramingChange(at(700), "camera_off", "", None, "c2", "camera", None)]
NOTES = [Note(at(900), "Client moved to a chair", "p1")]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def labels(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "row-label"]


def of_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if name in (e.get("class") or "").split()]


def x_at(seconds: float, duration: float) -> float:
    return LABEL_WIDTH + seconds / duration * PLOT_WIDTH


def test_a_row_for_each_presence_the_video_off_and_each_marker_kind():
    root = parse(timeline_svg(make(*SESSION, changes=CHANGES, notes=NOTES), "Europe/London"))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert labels(root) == ["Therapist", "C-17", "Video off", "Other person 1", "Alerts", "Changes", "Notes"]
    assert root.find(f"{SVG}title").text == "Session timeline"
    assert "Client video off 2 time(s)" in root.find(f"{SVG}desc").text
    assert root.get("viewBox").startswith("0 0 480 ") and root.get("width") is None  # scales to its box


def test_off_intervals_sit_at_their_times():
    root = parse(timeline_svg(make(*SESSION), "Europe/London"))
    bars = of_class(root, "video-off")
    assert [(float(b.get("x")), float(b.get("width"))) for b in bars] == [
        (round(x_at(120, 1600), 1), round(x_at(300, 1600) - x_at(120, 1600), 1)),
        (round(x_at(1500, 1600), 1), round(x_at(1560, 1600) - x_at(1500, 1600), 1)),  # ends as the client leaves
    ]
    assert all(b.get("fill") == COLOURS["video-off"] for b in bars)


def test_a_marker_for_each_alert_change_and_note_at_its_time():
    summary = make(*SESSION, changes=CHANGES, notes=NOTES)
    root = parse(timeline_svg(summary, "Europe/London"))
    assert len(of_class(root, "alert")) == len(summary["alerts"]) >= 2
    assert len(of_class(root, "change")) == 2 and len(of_class(root, "note")) == 1
    (note,) = of_class(root, "note")
    assert float(note.get("cx")) == round(x_at(900, 1600), 1)
    assert note.find(f"{SVG}title").text == "10:15 Client moved to a chair"
    lying = of_class(root, "change")[0].find(f"{SVG}title").text
    assert lying == "10:10 lying down: lay on the bed. Note: Asked him to sit up"


def test_hostile_text_is_escaped_everywhere():
    hostile = VISITOR.__class__(user_id="300", stable_id="uuid-v", name=HOSTILE)
    summary = make(
        started(), joined(1, THERAPIST), joined(20, hostile), ended(60), client_code=HOSTILE,
        changes=[FramingChange(at(10), "moved", HOSTILE, HOSTILE, "c1", "therapist", None)], notes=[Note(at(30), HOSTILE)],
    )
    svg = timeline_svg(summary, "Europe/London")
    assert "<script" not in svg and "& " not in svg
    root = parse(svg)
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert f"10:00 {HOSTILE}" in titles  # the note, intact once parsed
    assert f"10:00 moved: {HOSTILE}. Note: {HOSTILE}" in titles and f"{HOSTILE}: 10:00 to 10:01" in titles  # the change, the other person
    assert labels(root)[1].startswith("<script>") and labels(root)[1].endswith("…")  # the code, cut to fit the column


def test_no_style_attribute_or_element_and_a_class_on_every_drawn_element():
    root = parse(timeline_svg(make(*SESSION, changes=CHANGES, notes=NOTES), "Europe/London"))
    assert not [e.tag for e in root.iter() if "style" in e.attrib or e.tag == f"{SVG}style"]
    drawn = [e for e in root.iter() if e.tag in {f"{SVG}{t}" for t in ("rect", "line", "circle", "polygon", "text")}]
    assert drawn and all(e.get("class") for e in drawn)


def contrast_with_white(colour: str) -> float:
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(int(colour[i:i + 2], 16) / 255) for i in (1, 3, 5))
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


def test_every_colour_reaches_wcag_aa_against_white():
    root = parse(timeline_svg(make(*SESSION, changes=CHANGES, notes=NOTES), "Europe/London"))
    used = {e.get(a) for e in root.iter() for a in ("fill", "stroke") if e.get(a)}
    assert used and all(contrast_with_white(c) >= 4.5 for c in used), {c: round(contrast_with_white(c), 2) for c in used}


def test_many_other_people_share_one_row():
    others = [VISITOR.__class__(user_id=f"3{n}", stable_id=f"uuid-{n}", name=f"Visitor {n}") for n in range(5)]
    events = [started(), joined(1, THERAPIST), joined(5, CLIENT)] + [joined(10 + n, p) for n, p in enumerate(others)] + [ended(600)]
    root = parse(timeline_svg(make(*events), "Europe/London"))
    assert labels(root) == ["Therapist", "C-17", "Video off", "5 others", "Alerts", "Changes", "Notes"]
    assert len(of_class(root, "other")) == 5


def test_a_live_session_is_drawn_to_its_last_instant_with_open_spans_to_the_edge():
    summary = make(started(), joined(1, THERAPIST), joined(5, CLIENT), video(100, CLIENT, False), now=at(400))
    root = parse(timeline_svg(summary, "Europe/London"))
    assert root.find(f"{SVG}title").text == "Session timeline (in progress)"
    assert "still in progress" in root.find(f"{SVG}desc").text
    (off,) = of_class(root, "video-off")
    # The open off-interval lasts `seconds` as of the summary's now (400 s), the drawn window's end.
    assert float(off.get("x")) == round(x_at(100, 400), 1)
    assert float(off.get("x")) + float(off.get("width")) == LABEL_WIDTH + PLOT_WIDTH
    assert off.find(f"{SVG}title").text.endswith("to still open")


def tick_labels(root: ET.Element) -> list[str]:
    return [t.text for t in of_class(root, "tick-label")]


def test_ticks_fall_on_round_times_in_the_therapists_zone():
    summary = make(*SESSION)  # 10:00:00 to 10:26:40 UTC
    assert tick_labels(parse(timeline_svg(summary, "Europe/London"))) == ["10:00", "10:05", "10:10", "10:15", "10:20", "10:25"]
    assert tick_labels(parse(timeline_svg(summary, "America/New_York"))) == ["05:00", "05:05", "05:10", "05:15", "05:20", "05:25"]
    kolkata = tick_labels(parse(timeline_svg(summary, "Asia/Kolkata")))  # UTC+5:30
    assert kolkata[0] == "15:30" and all(int(t[-2:]) % 5 == 0 for t in kolkata)


def test_ticks_where_the_clocks_go_back_are_in_the_window_once_each_and_evenly_spaced():
    # St John's goes from UTC-2:30 to UTC-3:30 at 04:30 UTC on 5 Nov 2028: local 01:00-02:00 comes twice.
    instant = {"session_id": "s", "timeline": [{"at": "2028-11-05T05:00:00Z"}]}  # the second 01:30
    assert tick_labels(parse(timeline_svg(instant, "America/St_Johns"))) == ["01:30"]  # not the hour's ticks before it too
    across = {"session_id": "s", "timeline": [{"at": "2028-11-05T04:20:00Z"}, {"at": "2028-11-05T05:10:00Z"}]}
    root = parse(timeline_svg(across, "America/St_Johns"))
    assert tick_labels(root) == ["01:50", "01:00", "01:10", "01:20", "01:30", "01:40"]  # 04:20 to 05:10 UTC, every 10 minutes
    xs = [float(t.get("x1")) for t in of_class(root, "tick")]
    assert xs[0] == LABEL_WIDTH and xs[-1] == LABEL_WIDTH + PLOT_WIDTH and len({round(b - a, 3) for a, b in itertools.pairwise(xs)}) == 1


def test_a_session_of_days_labels_its_ticks_with_the_day():
    summary = make(started(), joined(1, THERAPIST), ended(3 * 86400))
    ticks = tick_labels(parse(timeline_svg(summary, "Europe/London")))
    assert ticks[0] == "21 Nov 00:00" and 2 <= len(ticks) <= 7


def test_an_empty_or_instant_session_still_draws():
    for summary in ({}, {"session_id": "s"}, make(started(), ended(0)), make(started())):
        root = parse(timeline_svg(summary, "Europe/London"))
        assert labels(root)[:3] == ["Therapist", "C-17" if summary.get("client_code") else "Client", "Video off"]
    assert parse(timeline_svg({}, "UTC")).find(f"{SVG}desc").text == "No times were recorded for this session."


def test_the_html_summary_shows_the_picture_after_the_key_facts_and_the_markdown_says_where_it_is():
    summary = make(*SESSION, notes=NOTES)
    page = to_html(summary, "Europe/London")
    assert page.count("<svg") == 1
    assert page.index("<h2>Overview</h2>") < page.index("<svg") < page.index("<h2>Participants</h2>") < page.index("<h2>Timeline</h2>")
    text = to_markdown(summary, "Europe/London")
    assert "<svg" not in text and "picture is in the HTML and PDF" in text


TIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.replace(tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
)
MAYBE_TIME = st.one_of(st.none(), TIMES, st.just(""), st.just("not a time"))
TEXT = st.one_of(st.none(), st.text(max_size=30))


def maybe(**fields):
    """A dict whose every key may be missing."""
    return st.fixed_dictionaries({}, optional=fields)


SUMMARIES = maybe(
    session_id=st.text(max_size=10),
    client_code=TEXT,
    started_at=MAYBE_TIME,
    ended_at=MAYBE_TIME,
    participants=st.lists(
        maybe(name=TEXT, role=st.sampled_from(["therapist", "client", "other", None]),
              intervals=st.lists(maybe(joined_at=MAYBE_TIME, left_at=MAYBE_TIME), max_size=3)),
        max_size=6,
    ),
    client_video=maybe(off_intervals=st.lists(
        maybe(start=MAYBE_TIME, end=MAYBE_TIME, seconds=st.one_of(st.none(), st.integers(-10, 10**9))), max_size=4)),
    alerts=st.lists(maybe(at=MAYBE_TIME, kind=TEXT, message=TEXT), max_size=4),
    framing_changes=st.lists(maybe(at=MAYBE_TIME, kind=TEXT, detail=TEXT, note=TEXT), max_size=4),
    notes=st.lists(maybe(at=MAYBE_TIME, text=TEXT), max_size=4),
    timeline=st.lists(maybe(at=MAYBE_TIME), max_size=4),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(summary=SUMMARIES, zone=st.sampled_from(["UTC", "Europe/London", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns"]))
def test_any_summary_draws_a_well_formed_accessible_picture(summary, zone):
    svg = timeline_svg(summary, zone)
    root = parse(svg)
    assert root.get("role") == "img" and root.find(f"{SVG}title").text and root.find(f"{SVG}desc").text
    assert "style" not in svg.split(">", 1)[0] and not re.search(r"\sstyle=", svg)
    xs = [float(e.get("x")) for e in of_class(root, "bar")] + [float(e.get("cx")) for e in of_class(root, "note")]
    assert all(LABEL_WIDTH <= x <= LABEL_WIDTH + PLOT_WIDTH for x in xs)
    assert len(of_class(root, "tick")) <= 8
