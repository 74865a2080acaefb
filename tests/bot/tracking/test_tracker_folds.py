"""The tracker keeps each session's fold between judgements, and still sees every event stored, by whoever stored it."""
from __future__ import annotations

from datetime import timedelta
from typing import Container

from bot.core import events as ev
from bot.core.prompts import NOTE_PROMPT
from bot.core.settings import Settings
from bot.storage.store import SessionRow, StoredEvent
from tests.bot.timekeeping.harness import CLIENT, MEETING, SESSION, T0, THERAPIST, Clock, Harness, joined, left, started, video


async def _judged_afresh(settings: Settings, clock: Clock) -> dict:
    """Return the session's summary from a tracker that has never seen it: every event read and folded."""
    async with Harness(settings, clock) as fresh:
        row = await fresh.store.session(SESSION)
        return (await fresh.tracker.view(row)).summary


async def test_events_stored_by_another_instance_are_seen(make_settings, storage_url) -> None:
    settings, clock = make_settings(storage_url), Clock(T0)
    async with Harness(settings, clock) as here, Harness(settings, clock) as there:
        await here.happen(started(T0), joined(THERAPIST, T0 + timedelta(seconds=5)), joined(CLIENT, T0 + timedelta(seconds=10)))
        row = await here.store.session(SESSION)
        assert (await here.tracker.state(row)).video_off == []
        clock.advance(minutes=5)
        # Another instance stores (and judges) the client's camera going off and on, then off again.
        await there.happen(video(False, T0 + timedelta(minutes=1)), video(True, T0 + timedelta(minutes=3)))
        await there.happen(video(False, T0 + timedelta(minutes=4)))
        state = await here.tracker.state(row)
        assert [(i.start, i.end) for i in state.video_off] == [
            (T0 + timedelta(minutes=1), T0 + timedelta(minutes=3)),
            (T0 + timedelta(minutes=4), None),
        ]
        # A late delivery, earlier than what is folded, stored elsewhere: folded in its place.
        await there.happen(left(CLIENT, T0 + timedelta(minutes=2)), joined(CLIENT, T0 + timedelta(minutes=2, seconds=30)))
        assert (await here.tracker.view(row)).summary == await _judged_afresh(settings, clock)


async def test_a_judged_session_keeps_its_fold_and_reads_only_new_rows(make_settings, sqlite_url, monkeypatch) -> None:
    settings, clock = make_settings(sqlite_url), Clock(T0 + timedelta(minutes=1))
    async with Harness(settings, clock) as h:
        await h.happen(started(T0), joined(THERAPIST, T0 + timedelta(seconds=5)), joined(CLIENT, T0 + timedelta(seconds=10)))
        row = await h.store.session(SESSION)
        seen: list[int] = []
        events_after, with_the_row = h.store.events_after, h.store.session_and_events_after

        async def counting(meeting: ev.MeetingRef, after_id: int, known: Container[str] = ()) -> list[StoredEvent]:
            found = await events_after(meeting, after_id, known)
            seen.append(len(found))
            return found

        async def counting_with_the_row(session_id: str, after_id: int, known: Container[str] = ()) -> tuple[SessionRow | None, list[StoredEvent]]:
            row, found = await with_the_row(session_id, after_id, known)
            seen.append(len(found))
            return row, found

        monkeypatch.setattr(h.store, "events_after", counting)
        monkeypatch.setattr(h.store, "session_and_events_after", counting_with_the_row)
        for minute in range(2, 12):
            clock.advance(minutes=1)
            await h.happen(video(minute % 2 == 1, T0 + timedelta(minutes=minute)))
        assert seen and max(seen) == 1  # each judgement read the one row stored since the last
        assert (await h.tracker.view(row)).summary == await _judged_afresh(settings, clock)
        offs = (await h.tracker.view(row)).summary["client_video"]["off_count"]
        assert offs == 5


async def test_a_summary_reuses_what_it_built_before_and_equals_one_built_afresh(make_settings, storage_url) -> None:
    settings, clock = make_settings(storage_url), Clock(T0 + timedelta(minutes=1))
    async with Harness(settings, clock) as h:
        await h.happen(started(T0), joined(THERAPIST, T0 + timedelta(seconds=5)), joined(CLIENT, T0 + timedelta(seconds=10)))
        row = await h.store.session(SESSION)
        first = (await h.tracker.view(row)).summary
        for minute in range(2, 15):
            clock.advance(minutes=1)
            await h.happen(video(minute % 2 == 1, T0 + timedelta(minutes=minute)))
            summary = (await h.tracker.view(row)).summary
            if minute == 8:  # the therapist answers the first prompt raised
                prompt = (await h.notices(NOTE_PROMPT))[0]
                await h.store.add_note(SESSION, clock(), "looked away", str(prompt.id))
        summary = (await h.tracker.view(row)).summary
        assert summary == await _judged_afresh(settings, clock)
        assert summary["framing_changes"][0]["note"] == "looked away" and summary["unanswered_changes"] >= 1
        assert summary["client_video"]["off_count"] == 7 and summary["client_video"]["off_intervals"][-1]["end"] is None
        assert summary["timeline"][0] is first["timeline"][0]  # built once, at the first look


async def test_rows_read_with_the_session_are_folded_once_even_if_another_look_comes_in_between(make_settings, storage_url, monkeypatch) -> None:
    settings, clock = make_settings(storage_url), Clock(T0 + timedelta(minutes=1))
    async with Harness(settings, clock) as h:
        await h.happen(started(T0), joined(THERAPIST, T0 + timedelta(seconds=5)), joined(CLIENT, T0 + timedelta(seconds=10)))
        with_the_row = h.store.session_and_events_after
        looks: list[int] = []

        async def a_stream_looks_meanwhile(session_id: str, after_id: int, known: Container[str] = ()) -> tuple[SessionRow | None, list[StoredEvent]]:
            read = await with_the_row(session_id, after_id, known)
            # Between the judging's read and its fold, an event is stored and a stream reads the state with a row of its own.
            await h.tracker.record(MEETING, [(f"meanwhile:{len(looks)}", video(len(looks) % 2 == 0, clock()))])
            looks.append(len((await h.tracker.state(await h.store.session(SESSION))).video_off))
            return read

        monkeypatch.setattr(h.store, "session_and_events_after", a_stream_looks_meanwhile)
        for minute in range(2, 6):
            clock.advance(minutes=1)
            await h.happen(video(minute % 2 == 1, T0 + timedelta(minutes=minute, seconds=30)))
        monkeypatch.setattr(h.store, "session_and_events_after", with_the_row)
        row = await h.store.session(SESSION)
        assert len(looks) == 4 and len(await h.store.session_events(MEETING)) == 3 + 4 + 4
        assert (await h.tracker.view(row)).summary == await _judged_afresh(settings, clock)
