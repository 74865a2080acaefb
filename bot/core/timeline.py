"""Draw a session's timeline from its summary as an accessible SVG picture, in the therapist's time zone."""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from .timefmt import clock_text, day_text, local_text
from .timeline_rows import MarkerRow, PresenceRow, drawn_window, marker_rows, presence_rows

WIDTH = 480  # viewBox units: the picture scales to its box, from a 320 px side panel to a page
LABEL_WIDTH = 104
RIGHT_PAD = 16
PLOT_WIDTH = WIDTH - LABEL_WIDTH - RIGHT_PAD
ROW_HEIGHT = 22
BAR_HEIGHT = 12
AXIS_HEIGHT = 30
LABEL_CHARS = 15  # what fits in the label column at the font size below
FONT = 'font-family="sans-serif" font-size="12"'
MIN_SPAN_SECONDS = 60  # a session of zero length still gets a scale
MAX_TICKS = 6
MAX_DAY_TICKS = 4

# Each colour is at least 4.5:1 against white (WCAG AA for text, so for the marks too).
COLOURS = {
    "therapist": "#1d4ed8",
    "client": "#047857",
    "video-off": "#b91c1c",
    "other": "#6d28d9",
    "alert": "#b45309",
    "change": "#0f766e",
    "note": "#374151",
    "ink": "#1f2937",
    "grid": "#6b7280",
}
_STEP_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 180, 240)  # up to a day in six ticks
_CLOCK_CHANGE = timedelta(hours=2)  # the most a zone's clocks go back at once (Lord Howe's half hour, DST's hour, two at most)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: object) -> str:
    """Return user data as XML text: characters XML cannot carry dropped, the rest escaped."""
    return html.escape(_NOT_XML.sub("", str(value)), quote=True)


def _short(value: str, chars: int = LABEL_CHARS) -> str:
    return value if len(value) <= chars else value[: chars - 1] + "…"


@dataclass(frozen=True)
class _Scale:
    """Where an instant of the drawn window falls across the plot."""

    start: datetime
    end: datetime
    seconds: float  # the window's length, never under MIN_SPAN_SECONDS

    @classmethod
    def of(cls, start: datetime, end: datetime) -> _Scale:
        return cls(start, end, max((end - start).total_seconds(), MIN_SPAN_SECONDS))

    def x(self, at: datetime) -> float:
        share = (at - self.start).total_seconds() / self.seconds
        return LABEL_WIDTH + min(max(share, 0.0), 1.0) * PLOT_WIDTH


def _ticks(scale: _Scale, zone: str) -> tuple[list[datetime], bool]:
    """Return round local times across the window, and whether they need the day to be told apart."""
    minutes = scale.seconds / 60
    by_day = minutes > 1440
    if by_day:  # longer labels: fewer of them
        step = math.ceil(minutes / MAX_DAY_TICKS / 1440) * 1440
    else:
        step = next(s for s in _STEP_MINUTES if minutes / s <= MAX_TICKS)
    local = scale.start.astimezone(ZoneInfo(zone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    # Same-zone arithmetic is wall-clock arithmetic: the ticks fall on round local times. Where the clocks go back a wall
    # time comes twice (fold 0, then 1), each a tick if in the window: the walk by wall time starts and ends as far
    # beyond the window as clocks ever change at once, and keeps the instants within it.
    first = local.replace(fold=0) - _CLOCK_CHANGE
    tick = midnight + timedelta(minutes=math.floor((first - midnight).total_seconds() / 60 / step) * step)
    last = local + timedelta(seconds=scale.seconds) + _CLOCK_CHANGE
    found: set[datetime] = set()  # in UTC: local times a fold apart compare equal
    while tick <= last:
        found.update(at.astimezone(timezone.utc) for at in (tick, tick.replace(fold=1)) if scale.start <= at <= scale.end)
        tick += timedelta(minutes=step)
    return sorted(found), by_day


def _marker(kind: str, x: float, y: float, what: str) -> str:
    """Return a marker with its account: a triangle for an alert, a diamond for a change, a circle for a note."""
    if kind == "alert":
        tag, where = "polygon", f'points="{x:.1f},{y - 6:.1f} {x - 6:.1f},{y + 5:.1f} {x + 6:.1f},{y + 5:.1f}"'
    elif kind == "change":
        tag, where = "polygon", f'points="{x:.1f},{y - 6:.1f} {x + 6:.1f},{y:.1f} {x:.1f},{y + 6:.1f} {x - 6:.1f},{y:.1f}"'
    else:
        tag, where = "circle", f'cx="{x:.1f}" cy="{y:.1f}" r="5"'
    return f'<{tag} class="marker {kind}" fill="{COLOURS[kind]}" {where}><title>{_text(what)}</title></{tag}>'


def _account(window: tuple[datetime, datetime] | None, live: bool, rows: list[PresenceRow], marks: list[MarkerRow], zone: str) -> str:
    """Return the picture's text account: when, who was there, the video off, and how many markers."""
    if window is None:
        return "No times were recorded for this session."
    start, end = window
    told = [f"From {local_text(start, zone)} to {local_text(end, zone)}" + (" (still in progress: drawn up to its last event)." if live else ".")]
    for row in rows:
        told.append(f"Client video off {len(row.spans)} time(s)." if row.kind == "video-off" else f"{row.label}: present {len(row.spans)} time(s).")
    told.append(", ".join(f"{len(row.marks)} {row.label.lower().rstrip('s')}(s)" for row in marks) + ".")
    return " ".join(told)


def _row(n: int, label: str) -> tuple[float, list[str]]:
    """Return a row's middle and its label and track."""
    y = n * ROW_HEIGHT + ROW_HEIGHT / 2
    return y, [
        f'<text class="row-label" fill="{COLOURS["ink"]}" x="4" y="{y + 4:.1f}">{_text(_short(label))}</text>',
        f'<line class="track" stroke="{COLOURS["grid"]}" stroke-width="0.5" x1="{LABEL_WIDTH}" x2="{WIDTH - RIGHT_PAD}" y1="{y}" y2="{y}"/>',
    ]


def _bars(row: PresenceRow, y: float, scale: _Scale, zone: str) -> list[str]:
    out = []
    for start, end in row.spans:
        x1, x2 = scale.x(start), scale.x(end or scale.end)
        until = clock_text(end, zone) if end else "still open"
        out.append(
            f'<rect class="bar {row.kind}" fill="{COLOURS[row.kind]}" x="{x1:.1f}" y="{y - BAR_HEIGHT / 2}" '
            f'width="{max(x2 - x1, 1.0):.1f}" height="{BAR_HEIGHT}"><title>{_text(row.label)}: '
            f"{clock_text(start, zone)} to {until}</title></rect>"
        )
    return out


def _axis(y: float, scale: _Scale | None, zone: str) -> list[str]:
    """Return the time axis with ticks at round local times, named by the zone's place."""
    place = _short(zone.rsplit("/", 1)[-1].replace("_", " "))
    out = [
        f'<line class="axis" stroke="{COLOURS["ink"]}" x1="{LABEL_WIDTH}" x2="{WIDTH - RIGHT_PAD}" y1="{y + 2}" y2="{y + 2}"/>',
        f'<text class="axis-zone" fill="{COLOURS["ink"]}" x="4" y="{y + 18}">{_text(place)}</text>',
    ]
    if scale is None:
        return out
    ticks, by_day = _ticks(scale, zone)
    for tick in ticks:
        x = scale.x(tick)
        label = day_text(tick, zone) if by_day else clock_text(tick, zone)
        out.append(f'<line class="tick" stroke="{COLOURS["ink"]}" x1="{x:.1f}" x2="{x:.1f}" y1="{y + 2}" y2="{y + 6}"/>')
        out.append(f'<text class="tick-label" fill="{COLOURS["ink"]}" text-anchor="middle" x="{x:.1f}" y="{y + 18}">{label}</text>')
    return out


def timeline_svg(summary: dict[str, Any], zone: str) -> str:
    """Return the session's timeline as an SVG picture: presence, video off, other people, alerts, changes and notes.

    A live session (no `ended_at`) is drawn up to the last instant its summary knows; an open presence or
    off-interval runs to that edge. Markers outside the session sit at its nearer edge.
    """
    window = drawn_window(summary)
    live = not summary.get("ended_at")
    rows, marks = presence_rows(summary), marker_rows(summary, zone)
    height = ROW_HEIGHT * (len(rows) + len(marks)) + AXIS_HEIGHT
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="session-timeline" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'aria-labelledby="timeline-title timeline-desc" {FONT}>',
        f'<title id="timeline-title">Session timeline{" (in progress)" if live else ""}</title>',
        f'<desc id="timeline-desc">{_text(_account(window, live, rows, marks, zone))}</desc>',
    ]
    scale = _Scale.of(*window) if window else None
    for n, row in enumerate(rows):
        y, drawn = _row(n, row.label)
        out += drawn + (_bars(row, y, scale, zone) if scale else [])
    for n, marker_row in enumerate(marks, len(rows)):
        y, drawn = _row(n, marker_row.label)
        out += drawn + ([_marker(marker_row.kind, scale.x(at), y, what) for at, what in marker_row.marks] if scale else [])
    out += _axis(ROW_HEIGHT * (len(rows) + len(marks)), scale, zone)
    out.append("</svg>")
    return "\n".join(out)
