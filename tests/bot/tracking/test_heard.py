"""When a session's events up to an instant were last received, kept with its fold (bot/tracking/heard.py): as the store says."""
from __future__ import annotations

import random
from datetime import timedelta

from bot.core.timefmt import from_iso, to_stamp
from bot.storage.due_store import DueStore
from bot.tracking.heard import HeardUpTo
from tests.bot.timekeeping.harness import CLIENT, MEETING, SESSION, T0, THERAPIST, Clock, Harness, joined, started, video


def test_the_latest_receipt_up_to_each_instant_is_the_brute_force_answer_whatever_the_order_rows_come_in() -> None:
    chance = random.Random(15)
    heard, rows = HeardUpTo(), []
    for _ in range(300):
        at, received = T0 + timedelta(seconds=chance.randrange(600)), to_stamp(T0 + timedelta(seconds=chance.randrange(900)))
        key = f"k{chance.randrange(250)}"  # some keys come twice (a redelivery): the first row noted stands
        if key not in {k for k, _, _ in rows}:
            rows.append((key, at, received))
        heard.note(key, at, received)
        asked = T0 + timedelta(seconds=chance.randrange(-10, 610))
        expected = max((r for _, a, r in rows if a <= asked), default=None)
        assert heard.up_to(asked) == (None if expected is None else from_iso(expected))


async def test_a_judging_knows_what_the_store_would_say_without_asking_it(make_settings, storage_url) -> None:
    clock = Clock(T0 + timedelta(minutes=1))
    async with Harness(make_settings(storage_url), clock) as h:
        await h.happen(started(T0), joined(THERAPIST, T0), joined(CLIENT, T0 + timedelta(seconds=10)))
        for minute in (5, 3, 9, 2, 7):  # late and early deliveries, each received later than the last
            clock.advance(seconds=45)
            await h.happen(video(minute % 2 == 1, T0 + timedelta(minutes=minute)))
        heard, due = h.tracker._folds.heard(SESSION), DueStore(h.store)
        assert heard is not None
        for seconds in range(-30, 660, 15):
            at = T0 + timedelta(seconds=seconds)
            assert heard.up_to(at) == await due.last_heard(MEETING, up_to=at)
