"""The session list's entries kept at each judging (bot/tracking/session_listing.py): written when they change, not at every judging."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.core import events as ev
from bot.storage import schema
from bot.tracking import session_listing
from bot.tracking.session_listing import SessionListing
from tests.bot.timekeeping.harness import CLIENT, SESSION, T0, THERAPIST, Clock, Harness, ended, joined, started, video
from tests.conftest import THERAPIST_A_HOST
from tests.statements import Statements

OTHER = ev.MeetingRef("zoom", "uuid-occurrence-2==", "85746065433", THERAPIST_A_HOST)


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def listing_writes(sent: list[str]) -> int:
    return sum(s.startswith("INSERT INTO session_listing") for s in sent)


async def statuses(h: Harness) -> dict[str, str]:
    t = schema.session_listing
    async with h.engine.connect() as conn:
        return dict((await conn.execute(select(t.c.session_id, t.c.status))).all())


async def test_an_entry_written_is_not_written_again_until_it_changes(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock(at(30))) as h:
        h.tracker.after_evaluation.append(SessionListing(h.tracker).keep)
        await h.happen(started(T0), joined(THERAPIST, T0), joined(CLIENT, at(30)))
        assert await statuses(h) == {SESSION: "in_progress"}
        with Statements(h.engine) as sent:
            h.clock.now = at(100)
            await h.happen(video(False, at(100)))
            await h.tracker.evaluate(SESSION)
        # PostgreSQL may be shared by several instances: the entry is sent at each judging, the row unchanged by it.
        assert listing_writes(sent) == (0 if h.engine.dialect.name == "sqlite" else 2)
        with Statements(h.engine) as sent:
            h.clock.now = at(200)
            await h.happen(ended(at(200)))
        assert listing_writes(sent) == 1
        assert await statuses(h) == {SESSION: "ended"}


async def test_the_entries_remembered_are_bounded_and_a_forgotten_one_is_written_again(make_settings, sqlite_url, monkeypatch):
    monkeypatch.setattr(session_listing, "MAX_WRITTEN", 1)
    async with Harness(make_settings(sqlite_url), Clock(at(30))) as h:
        h.tracker.after_evaluation.append(SessionListing(h.tracker).keep)
        await h.happen(started(T0))
        other = await h.tracker.record(OTHER, [("other:start", ev.MeetingStarted(meeting=OTHER, at=T0))])
        assert other.session_id is not None
        with Statements(h.engine) as sent:
            await h.tracker.evaluate(other.session_id)  # new: written, and the first session's entry forgotten
            await h.tracker.evaluate(other.session_id)  # remembered
            await h.tracker.evaluate(SESSION)  # forgotten: written again (a write that changes nothing)
        assert listing_writes(sent) == 2
        assert await statuses(h) == {SESSION: "in_progress", other.session_id: "in_progress"}


async def test_an_entry_another_instance_wrote_since_is_written_again_at_the_next_judging(make_settings, postgres_url):
    async with Harness(make_settings(postgres_url), Clock(at(30))) as h:
        h.tracker.after_evaluation.append(SessionListing(h.tracker).keep)
        await h.happen(started(T0), joined(THERAPIST, T0), joined(CLIENT, at(30)))
        async with h.engine.begin() as conn:  # another instance, judging the session from other events meanwhile
            await conn.execute(schema.session_listing.update().values(status="ended", judged_at="2000-01-01T00:00:00.000000Z"))
        h.clock.now = at(100)
        await h.tracker.evaluate(SESSION)
        assert await statuses(h) == {SESSION: "in_progress"}
