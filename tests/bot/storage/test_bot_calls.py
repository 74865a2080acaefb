"""A calling bot's call kept in the database: one claim per session, its call id, state and roster position (bot/storage/bot_calls.py)."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from bot.core.events import MeetingRef
from bot.storage.bot_calls import BUSY, CLAIMED, FAILED, HUNG_UP, TAKEN, BotCallStore
from bot.storage.store import Store, create_engine
from tests.conftest import storage_keys

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
MEETING = MeetingRef("teams", "jmeeting@20261120T100000.000000Z", "jmeeting", "host-entra-id")
HOLD = timedelta(minutes=2)


@pytest.fixture
async def calls(storage_url):
    engine = create_engine(storage_url)
    store = Store(engine, storage_keys())
    await store.upgrade()
    yield BotCallStore(engine)
    await store.close()
    await engine.dispose()


async def test_one_claim_per_session_however_many_ask_at_once(calls):
    answers = await asyncio.gather(*(calls.claim("s1", "t1", MEETING, T0, HOLD) for _ in range(8)))
    assert sorted(answers) == [BUSY] * 7 + [CLAIMED]
    (call,) = await calls.live("teams")
    assert (call.session_id, call.state, call.call_id, call.meeting) == ("s1", "joining", None, MEETING)


async def test_a_claim_left_by_a_crashed_join_lapses_and_a_released_one_at_once(calls):
    assert await calls.claim("s1", "t1", MEETING, T0, HOLD) == CLAIMED
    assert await calls.claim("s1", "t1", MEETING, T0 + HOLD - timedelta(seconds=1), HOLD) == BUSY
    assert await calls.claim("s1", "t1", MEETING, T0 + HOLD, HOLD) == CLAIMED
    await calls.release("s1", T0 + HOLD + timedelta(seconds=5))
    assert await calls.claim("s1", "t1", MEETING, T0 + HOLD + timedelta(seconds=5), HOLD) == CLAIMED


async def test_once_joined_or_over_the_session_is_taken(calls):
    await calls.claim("s1", "t1", MEETING, T0, HOLD)
    assert await calls.joined("s1", "call-1", "establishing", T0)
    assert await calls.claim("s1", "t1", MEETING, T0 + timedelta(hours=1), HOLD) == TAKEN
    assert (await calls.by_call("teams", "call-1")).session_id == "s1"
    assert await calls.by_call("zoom", "call-1") is None
    await calls.claim("s2", "t1", MEETING, T0, HOLD)
    assert await calls.set_state("s2", HUNG_UP, T0)  # the meeting ended while its bot was joining
    assert not await calls.joined("s2", "call-2", "establishing", T0)  # so the join finds it over
    assert await calls.claim("s2", "t1", MEETING, T0 + timedelta(hours=1), HOLD) == TAKEN


async def test_an_ended_call_stays_ended(calls):
    await calls.claim("s1", "t1", MEETING, T0, HOLD)
    await calls.joined("s1", "call-1", "establishing", T0)
    assert await calls.set_state("s1", "established", T0)
    assert await calls.set_state("s1", FAILED, T0, "0/5855")
    assert not await calls.set_state("s1", "established", T0)
    call = await calls.by_session("s1")
    assert (call.state, call.result, call.over) == ("failed", "0/5855", True)
    assert await calls.live("teams") == []


async def test_the_roster_sequence_only_moves_forward_and_participants_are_read_once(calls):
    await calls.claim("s1", "t1", MEETING, T0, HOLD)
    assert await calls.advance_sequence("s1", 5, T0)
    assert not await calls.advance_sequence("s1", 5, T0) and not await calls.advance_sequence("s1", 3, T0)
    assert await calls.advance_sequence("s1", 2**62, T0)
    assert (await calls.by_session("s1")).roster_sequence == 2**62
    assert await calls.read_participants_once("s1", T0)
    assert not await calls.read_participants_once("s1", T0)
    assert (await calls.by_session("s1")).participants_read
