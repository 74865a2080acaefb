"""Storage on SQLite and PostgreSQL: idempotent writes, ordering, scoping, upgrades."""
from __future__ import annotations

import asyncio

from bot.storage.store import Store, create_engine, session_id_for
from tests.bot.core.builders import (
    CLIENT,
    MEETING,
    THERAPIST,
    at,
    ended,
    joined,
    started,
)
from tests.conftest import storage_keys


async def test_upgrading_twice_keeps_the_schema_and_its_data(store):
    await store.record_events("t1", MEETING, [("k1", started())], at(0))
    assert await store.upgrade() == await store.upgrade()
    assert len(await store.session_events(MEETING)) == 1


async def test_a_redelivered_event_inserts_nothing(store):
    assert await store.record_events("t1", MEETING, [("k1", started())], at(0)) == 1
    assert await store.record_events("t1", MEETING, [("k1", started())], at(9)) == 0
    assert len(await store.session_events(MEETING)) == 1


async def test_events_come_back_in_their_own_time_order_with_ties_by_rank(store):
    keyed = [("a", ended(60)), ("b", joined(5, CLIENT)), ("c", started(0)), ("d", joined(5, THERAPIST))]
    for key, event in keyed:
        await store.record_events("t1", MEETING, [(key, event)], at(70))
    loaded = await store.session_events(MEETING)
    assert [e.kind for e in loaded] == ["meeting_started", "participant_joined", "participant_joined", "meeting_ended"]
    assert [e.participant.stable_id for e in loaded[1:3]] == [CLIENT.stable_id, THERAPIST.stable_id]  # same instant: by key


async def test_concurrent_writes_are_all_committed(store):
    writes = [store.record_events("t1", MEETING, [(f"k{n}", joined(n, CLIENT))], at(n)) for n in range(50)]
    assert sum(await asyncio.gather(*writes)) == 50
    assert len(await store.session_events(MEETING)) == 50


async def test_sessions_belong_to_their_therapist(store):
    await store.record_events("t1", MEETING, [("k1", started())], at(0))
    sid = session_id_for("zoom", MEETING.occurrence_id)
    assert (await store.session(sid, "t1")).therapist_id == "t1"
    assert await store.session(sid, "t2") is None
    assert await store.sessions("t2") == []
    assert [s.id for s in await store.sessions("t1", "zoom", MEETING.occurrence_id)] == [sid]


async def test_a_notice_is_raised_once(store):
    first = await store.raise_notice("t1", "s1", "recording_started", "s1:r1", at(5), "Recording.", at(6))
    again = await store.raise_notice("t1", "s1", "recording_started", "s1:r1", at(5), "Recording.", at(7))
    assert first is not None and again is None
    assert set(await store.notice_ids("t1", "s1")) == {"s1:r1"}
    assert [n.id for n in await store.notices("t1")] == [first.id]
    assert await store.notices("t2") == []


async def test_notes_round_trip_in_time_order(store):
    await store.add_note("s1", at(20), "second", None)
    await store.add_note("s1", at(10), "first", "prompt-1")
    assert [(n.text, n.prompt_id) for n in await store.notes("s1")] == [("first", "prompt-1"), ("second", None)]


async def test_instances_starting_together_upgrade_the_schema_once(storage_url):
    engines = [create_engine(storage_url) for _ in range(3)]
    try:
        migrations = await asyncio.gather(*(Store(e, storage_keys()).upgrade() for e in engines))
        assert len({m.after for m in migrations}) == 1
        assert sum(m.before is None for m in migrations) == 1  # one created the schema; the others found it made
    finally:
        for engine in engines:
            await engine.dispose()
