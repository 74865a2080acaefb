"""Benchmark: the summary page's parts for a 90-minute session with 2,000 events (so far the timeline picture)."""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core import timeline, timeline_rows  # noqa: E402
from bot.core.alerts import AlertSettings, find_alerts  # noqa: E402
from bot.core.participants import RoleRules  # noqa: E402
from bot.core.record import FramingChange, Note  # noqa: E402
from bot.core.session import build_state  # noqa: E402
from bot.core.summary import SessionRecord, build_summary  # noqa: E402
from tests.bot.core.builders import CLIENT, MEETING, THERAPIST, VISITOR, at, ended, in_order, joined, left, started, video  # noqa: E402

EVENTS = 2000
MINUTES = 90
RUNS = 200
BUDGET_MS = 20.0


def session() -> dict:
    """Return the summary of a 90-minute session of EVENTS events: the client's camera and a visitor come and go."""
    end = MINUTES * 60
    events = [started(), joined(1, THERAPIST), joined(5, CLIENT)]
    visitors = [VISITOR.__class__(user_id=f"3{n}", stable_id=f"uuid-v{n}", name=f"Visitor {n}") for n in range(4)]
    n = 0
    while len(events) < EVENTS - 3:
        second = 10 + n * (end - 20) / EVENTS
        if n % 10 == 9:  # now and then someone else comes or goes
            who = visitors[(n // 10) % len(visitors)]
            events.append((joined if (n // 40) % 2 == 0 else left)(second, who))
        else:
            events.append(video(second, CLIENT, n % 2 == 1))
        n += 1
    events += [left(end - 2, CLIENT), left(end - 1, THERAPIST), ended(end)]
    state = build_state(MEETING, in_order(*events), RoleRules(therapist_account_ids=frozenset({"HOST"})))
    changes = [FramingChange(at(60 * k), "lying_down", "lay down", "Noted" if k % 2 else None, f"c{k}", "analysis", f"p{k}") for k in range(1, 41)]
    notes = [Note(at(90 * k), f"Note {k} & <words>", f"p{k}") for k in range(1, 41)]
    record = SessionRecord("s-bench", "t1", "C-17", notes=notes, framing_changes=changes)
    return build_summary(record, state, find_alerts(state, AlertSettings(), at(end)), at(end))


def timed(summary: dict) -> tuple[list[float], str]:
    """Return the picture's drawing times in ms, each from cold (no time parsed before), and the last picture."""
    times = []
    for _ in range(RUNS):
        timeline_rows._parsed.cache_clear()
        started_at = time.perf_counter()
        svg = timeline.timeline_svg(summary, "Europe/London")
        times.append((time.perf_counter() - started_at) * 1000)
    return sorted(times), svg


def main() -> int:
    ended = session()
    live = {**ended, "ended_at": None, "status": "in_progress"}  # drawn up to its last instant: every time is read
    timeline.timeline_svg(ended, "Europe/London")  # load the time zone once
    worst = 0.0
    for name, summary in (("ended", ended), ("live", live)):
        times, svg = timed(summary)
        p95 = times[int(len(times) * 0.95) - 1]
        worst = max(worst, p95)
        shapes = svg.count("<rect") + svg.count("<polygon") + svg.count("<circle")
        print(
            f"timeline picture, {name:<5} {len(summary['timeline'])} events, {summary['client_video']['off_count']} off-intervals, "
            f"{shapes} shapes, {len(svg) // 1024} KiB: median {statistics.median(times):.2f} ms, p95 {p95:.2f} ms, "
            f"max {times[-1]:.2f} ms ({RUNS} runs; budget {BUDGET_MS:.0f} ms)"
        )
    return 0 if worst < BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
