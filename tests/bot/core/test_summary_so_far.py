"""The summary built a piece at a time, kept per fold generation, is byte for byte the summary built whole."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.alerts import find_alerts
from bot.core.changes import session_changes, with_notes
from bot.core.fold import SessionFold
from bot.core.record import Note
from bot.core.session import MeetingState
from bot.core.summary import SessionRecord, build_summary
from bot.core.summary_so_far import SummarySoFar

from .builders import MEETING, at
from .test_fold import RULES, SETTINGS, arrivals, full_fold, make_event


class Therapist:
    """Answers as a therapist does, at random: prompts raised for some changes, notes against some of them, now and then."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.prompt_ids: dict[str, int] = {}
        self.notes: list[Note] = []

    def act(self, state: MeetingState, now: datetime) -> None:
        changes = session_changes(state, now)
        for change in self.rng.sample(changes, min(len(changes), self.rng.choice((0, 0, 1, 3)))):
            self.prompt_ids.setdefault(change.id, len(self.prompt_ids) + 1)
        if self.prompt_ids and self.rng.random() < 0.2:
            prompt = self.rng.choice([*self.prompt_ids.values(), None])
            self.notes.append(Note(now, self.rng.choice(("", "fine", "asked why")), None if prompt is None else str(prompt)))
        if self.rng.random() < 0.05:
            self.prompt_ids = {}  # a generation's own changes: ids that were never prompted show as such


def whole(state: MeetingState, now: datetime, code: str | None, therapist: Therapist, names: bool) -> tuple[Any, ...]:
    """Return the alerts, changes and JSON summary built whole, as the tracker built them before."""
    alerts = find_alerts(state, SETTINGS, now)
    changes = session_changes(state, now)
    shown = with_notes(changes, therapist.prompt_ids, therapist.notes)
    record = SessionRecord("s-1", "t1", code, notes=therapist.notes, framing_changes=shown)
    return alerts, changes, json.dumps(build_summary(record, state, alerts, now, names))


def so_far(kept: SummarySoFar, state: MeetingState, now: datetime, code: str | None, therapist: Therapist, names: bool) -> tuple[Any, ...]:
    """Return the alerts, changes and JSON summary built a piece at a time."""
    judged = kept.judged(state, now)
    prompt_ids = {c.id: therapist.prompt_ids[c.id] for c in judged.changes if c.id in therapist.prompt_ids}
    record = SessionRecord("s-1", "t1", code, notes=therapist.notes)
    return judged.alerts, judged.changes, json.dumps(kept.summary(record, state, judged, prompt_ids, now, names))


def judged_at(state: MeetingState, now: datetime) -> datetime:
    return min(now, state.ended_at) if state.ended_at else now


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), count=st.integers(1, 120))
def test_every_look_at_a_session_as_it_grows_equals_the_summary_built_whole(seed: int, count: int) -> None:
    rng = random.Random(seed)
    fold, held, therapist = SessionFold(MEETING, RULES), {}, Therapist(rng)
    kept = SummarySoFar(fold.generation, SETTINGS)
    for key, event in arrivals(rng, count, end_at=count - 5):
        fold.add([(key, event)])
        held.setdefault(key, event)
        if kept.generation != fold.generation:  # folded anew: what was built of the last generation is dropped
            kept = SummarySoFar(fold.generation, SETTINGS)
        state = fold.state()
        now = judged_at(state, max(e.at for e in held.values()) + timedelta(seconds=rng.choice((0, 1, 45, 90, 400))))
        therapist.act(state, now)
        code, names = rng.choice((None, "C-17", "C-17")), rng.random() < 0.3
        assert so_far(kept, state, now, code, therapist, names) == whole(full_fold(held), now, code, therapist, names)


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32))
def test_a_2000_event_session_looked_at_now_and_then_equals_the_summary_built_whole(seed: int) -> None:
    rng = random.Random(seed)
    deliveries = arrivals(rng, 2000, end_at=1980)
    looks = {n + step for n in rng.sample(range(len(deliveries) - 6), 12) for step in range(6)} | {len(deliveries) - 1}  # in runs
    fold, held, therapist = SessionFold(MEETING, RULES), {}, Therapist(rng)
    kept, reused = SummarySoFar(fold.generation, SETTINGS), 0
    for n, (key, event) in enumerate(deliveries):
        fold.add([(key, event)])
        held.setdefault(key, event)
        if n not in looks:
            continue
        if kept.generation != fold.generation:
            kept = SummarySoFar(fold.generation, SETTINGS)
        else:
            reused += 1
        state = fold.state()
        now = judged_at(state, max(e.at for e in held.values()) + timedelta(seconds=rng.choice((0, 30, 600))))
        therapist.act(state, now)
        assert so_far(kept, state, now, "C-17", therapist, False) == whole(full_fold(held), now, "C-17", therapist, False), f"after {n}"
    assert reused > 30  # most looks found the generation they built before


def test_an_older_state_looked_at_after_a_newer_one_is_built_whole() -> None:
    fold, held = SessionFold(MEETING, RULES), {}
    opening = [("started", 0, 0), ("joined", 1, 0), ("joined", 2, 1), ("joined", 3, 3)]
    live = [("camera", 10 + 50 * n, 1) for n in range(40)] + [("framing", 2100, 1), ("recording", 2101, 0), ("camera", 2200, 1)]
    for n, (kind, second, who) in enumerate(opening + live):
        key, event = f"k{n}", make_event(kind, second, who, n % 2 == 1)
        fold.add([(key, event)])
        held[key] = event
        if n == 20:
            older, older_held = fold.state(), dict(held)
    assert fold.refolds == len(opening)  # the opening folds anew each time; the rest is applied in place: one generation
    kept, now = SummarySoFar(fold.generation, SETTINGS), at(5000)
    older_judged = kept.judged(older, now)  # then the summary waits (a read of the notes) while a newer state is judged
    assert so_far(kept, fold.state(), now, None, Therapist(random.Random(1)), False) == whole(full_fold(held), now, None, Therapist(random.Random(1)), False)
    record, expected = SessionRecord("s-1", "t1", None), whole(full_fold(older_held), now, None, Therapist(random.Random(1)), False)
    assert json.dumps(kept.summary(record, older, older_judged, {}, now)) == expected[2]
    assert so_far(kept, older, now, None, Therapist(random.Random(1)), False) == expected
