"""What judging a live session costs in statements (bot/tracking/tracker.py `evaluate`, with the service's hooks): counted, not timed."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from bot.core import events as ev
from bot.storage.store import session_id_for
from bot.tracking.session_listing import SessionListing
from tests.bot.timekeeping.harness import CLIENT, MEETING, SESSION, T0, THERAPIST, Clock, Harness, joined, started, video
from tests.conftest import THERAPIST_A_HOST
from tests.statements import Statements

# The session's row with its new events; its ticks, appointment, pending timers and notices (each part marked).
SESSION_AND_NEW_EVENTS, THE_REST = "SELECT sessions.id, sessions.platform,", "SELECT 't' AS"
READS = [SESSION_AND_NEW_EVENTS, THE_REST]


TAKE_TURNS, NOTIFIED = ["SELECT pg_advisory_xact_lock($1::BIGINT)"], ["SELECT pg_notify($1, $2)"]


def heads(sent: list[str]) -> list[str]:
    return [s.replace('"', "") for s in sent]


async def test_a_camera_event_is_judged_in_two_reads_and_a_write_for_each_thing_it_changes(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock(T0 + timedelta(seconds=30))) as h:
        h.tracker.after_evaluation.append(SessionListing(h.tracker).keep)  # as the service runs it: the list's entry too
        await h.happen(started(T0), joined(THERAPIST, T0), joined(CLIENT, T0 + timedelta(seconds=30)))
        # On PostgreSQL the timers written are notified to the leader in the same transaction (bot/timekeeping/leadership.py).
        notified = ["SELECT pg_notify($1, $2)"] if h.engine.dialect.name == "postgresql" else []
        # PostgreSQL may be shared by several instances: the list's entry is sent at each judging (a row unchanged by
        # it), and notices are inserted last, in turn with the other instances', and notified.
        listed = [*(["INSERT INTO session_listing"] if h.engine.dialect.name == "postgresql" else [])]
        raised = [*(TAKE_TURNS if h.engine.dialect.name == "postgresql" else []), "INSERT INTO notices", *(NOTIFIED if h.engine.dialect.name == "postgresql" else [])]
        for n in range(2):
            at = h.clock.advance(seconds=60)
            await h.tracker.record(MEETING, [(f"camera:{n}", video(n % 2 == 1, at))])
            with Statements(h.engine) as sent:
                await h.tracker.evaluate(SESSION)
            if n % 2 == 0:  # off: its check planned
                assert heads(sent) == [*READS, "INSERT INTO due_work", *notified, *listed]
            else:  # on after a minute: the alert raised, the camera's prompt waiting for late events (asked when they
                # settle (when the rows read were received, kept with the fold, tells when: no read), and the check
                # cancelled: written together once everything is read
                assert heads(sent) == [*READS, "UPDATE due_work SET", "INSERT INTO due_work", *notified, *listed, *raised]
        taken: list[object] = []
        event.listen(h.engine.sync_engine, "checkout", lambda dbapi, record, proxy: taken.append(record))
        with Statements(h.engine) as sent:
            await h.tracker.evaluate(SESSION)  # nothing new: nothing written
        assert heads(sent) == [*READS, *listed]
        assert len(taken) == 1 + len(listed)  # all the judging's reads share one connection (a write has its own)


MEETINGS = [ev.MeetingRef("zoom", f"uuid-occurrence-{n}==", f"9100000000{n}", THERAPIST_A_HOST) for n in range(4)]


async def live_with_the_camera_off(h: Harness) -> list[str]:
    """Store four live sessions, each client's camera off since a minute in; return their ids (nothing judged yet)."""
    for meeting in MEETINGS:
        client = ev.ParticipantRef(user_id="16779264", stable_id=f"C-{meeting.meeting_id}", name="Client Person")
        therapist = ev.ParticipantRef(user_id="16778240", stable_id=f"T-{meeting.meeting_id}", account_id=THERAPIST_A_HOST)
        happened = [
            ev.MeetingStarted(meeting=meeting, at=T0, scheduled_start=T0.strftime("%Y-%m-%dT%H:%M:%SZ"), scheduled_minutes=50),
            ev.ParticipantJoined(meeting=meeting, at=T0, participant=therapist),
            ev.ParticipantJoined(meeting=meeting, at=T0 + timedelta(seconds=10), participant=client),
            ev.VideoStateChanged(meeting=meeting, at=T0 + timedelta(minutes=1), participant=client, on=False),
        ]
        await h.tracker.record(meeting, [(f"{meeting.meeting_id}:{n}", e) for n, e in enumerate(happened)])
    return [session_id_for("zoom", m.occurrence_id) for m in MEETINGS]


def commits(h: Harness) -> list[object]:
    done: list[object] = []
    event.listen(h.engine.sync_engine, "commit", lambda conn: done.append(conn))
    return done


async def outcome(h: Harness, session_id: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Return a session's notices (kind, key) and pending timers (kind, due), its id taken out of the keys."""
    notices = sorted((n.kind, n.key.replace(session_id, "S")) for n in await h.store.notices("t1", session_id=session_id))
    timers = sorted((r.work.kind, r.work.due_at.isoformat()) for r in await h.due.pending(session_id=session_id))
    return notices, timers


async def test_a_judging_raises_its_notices_and_plans_its_timers_in_one_transaction(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock(T0 + timedelta(minutes=20))) as h:
        h.tracker.after_evaluation.append(SessionListing(h.tracker).keep)
        session_id = (await live_with_the_camera_off(h))[0]
        done = commits(h)
        with Statements(h.engine) as sent:
            await h.tracker.evaluate(session_id)
        notices, timers = await outcome(h, session_id)
        assert len(notices) >= 2 and timers  # the start notice and the camera's alert at least, and the session's timers
        writes = [s for s in heads(sent) if not s.startswith("SELECT")]
        assert writes == ["INSERT INTO due_work", "INSERT INTO session_listing", "INSERT INTO notices"]
        assert len(done) == 1


async def test_sessions_judged_together_are_written_in_one_transaction_as_each_would_be_alone(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock(T0 + timedelta(minutes=20))) as h:
        h.tracker.after_evaluation.append(SessionListing(h.tracker).keep)
        alone, *together = await live_with_the_camera_off(h)
        await h.tracker.evaluate(alone)
        done = commits(h)
        taken: list[object] = []
        event.listen(h.engine.sync_engine, "checkout", lambda dbapi, record, proxy: taken.append(record))
        with Statements(h.engine) as sent:
            assert await h.tracker.evaluate_many(together) == set(together)
        writes = [s for s in heads(sent) if not s.startswith("SELECT")]
        assert writes == ["INSERT INTO due_work", "INSERT INTO session_listing", "INSERT INTO notices"]  # the three entries in one
        assert len(done) == 1
        assert len(taken) == 2  # one connection for all their reads, one for the write
        expected = await outcome(h, alone)
        assert [await outcome(h, session_id) for session_id in together] == [expected] * 3
        assert await h.tracker.evaluate_many(together) == set(together)  # again: nothing new raised or planned
        assert [await outcome(h, session_id) for session_id in together] == [expected] * 3


async def test_a_judging_whose_write_fails_leaves_nothing_and_is_judged_whole_again(make_settings, storage_url):
    async with Harness(make_settings(storage_url), Clock(T0 + timedelta(minutes=20))) as h:
        session_id = (await live_with_the_camera_off(h))[0]
        writer = h.tracker.writer
        planned = writer._due.put_in

        async def broken(*args):
            raise OSError("the disk went away")

        writer._due.put_in = broken  # after the notices' INSERT: the transaction rolls them back
        with pytest.raises(OSError):
            await h.tracker.evaluate(session_id)
        assert await outcome(h, session_id) == ([], [])
        writer._due.put_in = planned
        raised = await h.tracker.evaluate(session_id)
        notices, timers = await outcome(h, session_id)
        assert raised and len(notices) >= 2 and timers  # nothing was taken as settled by the judging that failed
        assert await h.tracker.evaluate(session_id) == [] and await outcome(h, session_id) == (notices, timers)
