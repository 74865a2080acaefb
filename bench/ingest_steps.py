"""Measure, in process, the steps each stored event costs: its JSON, its key, reading it back, and judging a session.

Run from the repository root:  python bench/ingest_steps.py
The figures are the best of five runs (the least disturbed by other work on the machine).
"""
from __future__ import annotations

import sys
import timeit
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config.starter import new_key  # noqa: E402
from bot.core import events as ev  # noqa: E402
from bot.core.participants import RoleRules, Roster  # noqa: E402
from bot.core.session import build_state  # noqa: E402
from bot.storage.at_rest import AtRest  # noqa: E402
from bot.storage.sealing import NotesCipher  # noqa: E402
from integrations.zoom.event_keys import event_key  # noqa: E402
from tests.bot.core.builders import CLIENT, MEETING, THERAPIST, ended, in_order, joined, left, started, video  # noqa: E402

EVENTS = 2000


def session() -> list[ev.MeetingEvent]:
    """Return a session of EVENTS events: the client's camera goes off and on, forty visitors come and go."""
    events = [started(), joined(1, THERAPIST), joined(5, CLIENT)]
    n = 0
    while len(events) < EVENTS - 3:
        if n % 10 == 9:
            who = ev.ParticipantRef(user_id=f"3{n}", stable_id=f"uuid-v{n % 40}", name=f"Visitor {n % 40}")
            events.append((joined if (n // 10) % 2 == 0 else left)(10 + n * 2.5, who))
        else:
            events.append(video(10 + n * 2.5, CLIENT, n % 2 == 1))
        n += 1
    return in_order(*events, left(5000, CLIENT), left(5001, THERAPIST), ended(5002))


def best(step: Callable[[], object], number: int = 1) -> float:
    """Return the best time of five runs of `step` (`number` calls each), in microseconds a call."""
    return min(timeit.repeat(step, number=number, repeat=5)) / number * 1e6


def crowded_roster() -> tuple[Roster, ev.ParticipantRef]:
    """Return a roster of a client who reconnected 200 times and 40 visitors, and the last visitor's ref."""
    roster = Roster()
    roster.person(ev.ParticipantRef(user_id="100", stable_id="uuid-t", account_id="HOST", name_digest="t"))
    for k in range(200):
        roster.person(ev.ParticipantRef(user_id=f"2{k}", stable_id="uuid-c", name_digest="c"))
    for k in range(40):
        roster.person(ev.ParticipantRef(user_id=f"3{k}", stable_id=f"uuid-v{k}", name_digest=f"v{k}"))
    return roster, ev.ParticipantRef(user_id="339", stable_id="uuid-v39", name_digest="v39")


def main() -> None:
    at_rest = AtRest(NotesCipher([new_key()]), new_key())
    events = session()
    stored = [at_rest.event_data(event) for event in events]
    count = len(events)
    rules = RoleRules(therapist_account_ids=frozenset({"HOST"}))
    roster, last_visitor = crowded_roster()
    print(f"the stored JSON of an event:           {best(lambda: [at_rest.event_data(e) for e in events]) / count:7.2f} us")
    print(f"an event read back from its JSON:      {best(lambda: [at_rest.event_of(MEETING, 1, d) for d in stored]) / count:7.2f} us")
    print(f"a Zoom event's key:                    {best(lambda: [event_key('meeting.participant_joined', e) for e in events]) / count:7.2f} us")
    print(f"judging a session of {count} events:    {best(lambda: build_state(MEETING, events, rules)) / 1000:7.2f} ms")
    print(f"finding the 42nd of 42 people:         {best(lambda: roster.find(last_visitor), number=2000):7.2f} us")


if __name__ == "__main__":
    main()
