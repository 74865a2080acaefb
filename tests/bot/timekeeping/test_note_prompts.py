"""Note prompts on a controlled clock: once per change, after the camera is back, the same in any order."""
from __future__ import annotations

import random
from datetime import timedelta

from bot.core import events as ev
from bot.core.due_work import NOTICE_SETTLE

from .harness import (
    CLIENT,
    MEETING,
    T0,
    THERAPIST,
    Clock,
    Harness,
    ended,
    joined,
    left,
    started,
    video,
)


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def framing(s: float, change: str) -> ev.FramingChanged:
    return ev.FramingChanged(meeting=MEETING, at=at(s), change=change, source="analysis")


async def live_session(h: Harness) -> None:
    h.clock.now = at(30)
    await h.happen(started(T0), joined(THERAPIST, T0), joined(CLIENT, at(30)))


async def test_a_camera_off_for_three_minutes_prompts_once_a_minute_after_it_is_back(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock()) as h:
        await live_session(h)
        h.clock.now = at(100)
        await h.happen(video(False, at(100)))
        h.clock.now = at(280)
        await h.happen(video(True, at(280)))
        assert await h.notices("note_prompt") == []  # an 'on' or 'off' of the same stretch may still arrive late
        (wait,) = await h.due.pending(kind=NOTICE_SETTLE)
        assert wait.work.due_at == at(340)
        h.clock.now = at(340)
        await h.run_due()
        (prompt,) = await h.notices("note_prompt")
        assert prompt.message == "The client's camera was off for 3 min (10:01-10:04). What were they doing?"
        assert prompt.at.startswith("2026-11-20T10:01:40")
        h.clock.now = at(900)
        await h.happen(left(CLIENT, at(900)), left(THERAPIST, at(901)), ended(at(902)))
        await h.run_due()
        assert len(await h.notices("note_prompt")) == 1


async def test_an_interval_under_the_minimum_asks_nothing(make_settings, storage_url):
    async with Harness(make_settings(storage_url, prompts={"camera_off_min_seconds": 20}), Clock()) as h:
        await live_session(h)
        h.clock.now = at(119)
        await h.happen(video(False, at(100)), video(True, at(119)))
        h.clock.now = at(600)
        await h.happen(ended(at(600)))
        await h.run_due()
        assert await h.notices("note_prompt") == []
        (session,) = await h.store.sessions("t1")
        (change,) = (await h.tracker.view(session)).summary["framing_changes"]
        assert (change["kind"], change["prompt_id"], change["note"]) == ("camera_off", None, None)


async def test_a_late_event_of_the_same_stretch_moves_the_wait_and_the_prompt_says_what_happened(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock()) as h:
        await live_session(h)
        h.clock.now = at(400)
        await h.happen(video(False, at(100)), video(True, at(400)))
        h.clock.now = at(430)
        await h.happen(video(True, at(200)), video(False, at(300)))  # a reconnect's replay: two stretches, not one
        h.clock.now = at(490)
        await h.run_due()
        messages = [n.message for n in await h.notices("note_prompt")]
        assert messages == [
            "The client's camera was off for 1 min 40 s (10:01-10:03). What were they doing?",
            "The client's camera was off for 1 min 40 s (10:05-10:06). What were they doing?",
        ]


async def test_a_framing_change_prompts_at_once(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock()) as h:
        await live_session(h)
        h.clock.now = at(200)
        await h.happen(framing(200, "lying_down"))
        (prompt,) = await h.notices("note_prompt")
        assert prompt.message == "The client seems to be lying down (10:03). Anything to note?"


SCRIPT = [
    started(T0), joined(THERAPIST, T0), joined(CLIENT, at(30)),
    video(False, at(100)), video(True, at(280)), framing(300, "lying_down"), framing(360, "upright"),
    video(False, at(500)), video(True, at(505)),  # under the minimum
    video(False, at(600)), left(CLIENT, at(700)), joined(CLIENT, at(760)),
    video(False, at(900)), left(CLIENT, at(1000)), left(THERAPIST, at(1001)), ended(at(1002)),
]


async def replayed(make_settings, url: str, order: list) -> list[tuple[str, str, str]]:
    async with Harness(make_settings(url), Clock(at(1002))) as h:
        for event in order:  # one delivery at a time, a second apart, judged after each
            h.clock.advance(seconds=1)
            await h.happen(event)
        h.clock.advance(seconds=120)
        await h.run_due()
        await h.run_due()
        return sorted((n.key, n.at, n.message) for n in await h.notices("note_prompt"))


async def test_the_same_events_in_any_order_raise_the_same_prompts(make_settings, storage_url, tmp_path):
    expected = await replayed(make_settings, storage_url, SCRIPT)
    assert len(expected) == 5  # two framing changes; camera off 3 min, 100 s (until the client left), 100 s (until the end)
    assert any("until they left" in message for _, _, message in expected)
    for seed in range(1, 6):
        order = list(SCRIPT)
        random.Random(seed).shuffle(order)
        url = f"sqlite+aiosqlite:///{tmp_path / f'{seed}.db'}"
        assert await replayed(make_settings, url, order) == expected, seed
