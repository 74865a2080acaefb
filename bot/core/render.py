"""Render a summary document as Markdown or HTML, in the therapist's local time."""
from __future__ import annotations

import html
from typing import Any, Callable

from .timefmt import from_iso, local_text
from .timeline import timeline_svg

_EVENT_WORDS = {
    "meeting_started": "Meeting started",
    "meeting_ended": "Meeting ended",
    "participant_joined": "joined",
    "participant_left": "left",
    "waiting_room_joined": "entered the waiting room",
    "waiting_room_left": "left the waiting room",
    "participant_admitted": "was admitted",
    "sharing_started": "started sharing the screen",
    "sharing_ended": "stopped sharing the screen",
    "recording_started": "Recording started",
    "recording_stopped": "Recording stopped",
    "video_off": "switched video off",
    "video_on": "switched video on",
}


def _when(text: str | None, zone: str) -> str:
    return local_text(from_iso(text), zone) if text else "—"


def _minutes(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds // 60} min {seconds % 60:02d} s"


def _who(person: dict[str, Any]) -> str:
    """Return a participant by role label, and by the name the meeting showed if the therapist's own screen carries it."""
    shown = f"; in the meeting as {person['display_name']}" if person.get("display_name") else ""
    return f"{person['name']} ({person['role']}{shown})"


_SOURCES = {"camera": "camera", "analysis": "seen by the framing analysis", "therapist": "marked by the therapist"}


def _changes(summary: dict[str, Any], at: Callable[[str | None], str]) -> list[str]:
    """Return each camera or framing change with the note against it; a change without one says so."""
    changes = summary["framing_changes"]
    if not changes:
        return ["None recorded."]
    lines = []
    for change in changes:
        what = change["kind"].replace("_", " ").capitalize()
        detail = f": {change['detail']}" if change["detail"] else ""
        if change["note"] is not None:
            note = "Note: " + change["note"].replace("\n", " / ")
        else:
            note = "No note: unanswered." if change["prompt_id"] else "No note (no prompt was raised)."
        lines.append(f"{at(change['at'])}: {what}{detail} ({_SOURCES.get(change['source'], change['source'])}). {note}")
    unanswered = summary["unanswered_changes"]
    lines.append(f"{unanswered} of {len(changes)} change(s) have no note." if unanswered else f"All {len(changes)} change(s) have a note.")
    return lines


def sections(summary: dict[str, Any], zone: str) -> list[tuple[str, list[str]]]:
    """Return the summary as titled lists of plain-text lines, shared by both formats."""
    at = lambda text: _when(text, zone)  # noqa: E731
    video = summary["client_video"]
    overview = [
        f"Meeting: {summary['meeting']['id'] or 'no id'} ({summary['platform']})",  # never its topic: it may name someone
        f"Client: {summary.get('client_code') or 'not matched to a profile'}",
        f"Started: {at(summary['started_at'])}",
        f"Ended: {at(summary['ended_at'])}",
        f"Duration: {_minutes(summary['duration_seconds'])}",
    ]
    people = [
        f"{_who(p)}: "
        + ("; ".join(f"{at(i['joined_at'])} to {at(i['left_at'])}" for i in p["intervals"]) or "never joined")
        for p in summary["participants"]
    ]
    off = [f"{at(i['start'])} to {at(i['end'])}: {_minutes(i['seconds'])}" for i in video["off_intervals"]]
    off.append(
        f"{video['off_count']} interval(s), {_minutes(video['off_total_seconds'])} in all, "
        f"longest {_minutes(video['longest_off_seconds'])}"
    )
    framing = _changes(summary, at)
    alerts = [f"{at(a['at'])}: {a['message']}" for a in summary["alerts"]]
    checklist = summary["checklist"]
    ticks = [f"[{'x' if i['confirmed_at'] else ' '}] {i['text']}" for i in checklist["items"]]
    ticks.append(f"{checklist['confirmed']} of {checklist['total']} confirmed")
    asked = {c["prompt_id"]: c for c in summary["framing_changes"] if c["prompt_id"]}
    notes = [
        f"{at(n['at'])}: {n['text']}" + (f" (about the change at {at(asked[n['prompt_id']]['at'])})" if n["prompt_id"] in asked else "")
        for n in summary["notes"]
    ]
    timeline = []
    for t in summary["timeline"]:
        words = _EVENT_WORDS.get(t["event"], t["event"])
        who = f"{t['name']} ({t['role']}) " if t["role"] else ""
        timeline.append(f"{at(t['at'])}: {who}{words}")
    return [
        ("Overview", overview),
        ("Participants", people),
        ("Client video off", off),
        ("Framing and camera changes", framing),
        ("Alerts", alerts or ["None."]),
        ("Pre-call checklist", ticks),
        ("Notes", notes or ["None."]),
        ("Timeline", timeline),
    ]


def to_markdown(summary: dict[str, Any], zone: str) -> str:
    """Return the summary as Markdown."""
    lines = [f"# Session summary {summary['session_id']}", "", f"Times are in {zone}. The timeline picture is in the HTML and PDF summaries.", ""]
    for title, items in sections(summary, zone):
        lines += [f"## {title}", ""] + [f"- {item}" for item in items] + [""]
    return "\n".join(lines)


def _html_list(title: str, items: list[str]) -> list[str]:
    return [f"<h2>{html.escape(title)}</h2><ul>", *(f"<li>{html.escape(item)}</li>" for item in items), "</ul>"]


def to_html(summary: dict[str, Any], zone: str) -> str:
    """Return the summary as a standalone HTML page (every value escaped)."""
    esc = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Session summary {esc(summary['session_id'])}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;line-height:1.4}"
        "h2{border-bottom:1px solid #ccc}.session-timeline{display:block;width:100%;height:auto}</style></head><body>",
        f"<h1>Session summary {esc(summary['session_id'])}</h1>",
        f"<p>Times are in {esc(zone)}.</p>",
    ]
    overview, *rest = sections(summary, zone)
    parts += _html_list(*overview)
    parts += ["<h2>At a glance</h2>", timeline_svg(summary, zone)]  # the picture: after the key facts, before the lists
    for title, items in rest:
        parts += _html_list(title, items)
    parts.append("</body></html>")
    return "\n".join(parts)


RENDERERS: dict[str, Callable[[dict[str, Any], str], str]] = {"md": to_markdown, "html": to_html}
