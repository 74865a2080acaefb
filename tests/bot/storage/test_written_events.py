"""The events an instance wrote, read back undecoded: the same as decoded, bounded, and never a row's stale content."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from bot.core import events as ev
from bot.storage import schema
from bot.storage.at_rest import AtRest
from bot.storage.store import Store
from bot.storage.written_events import WrittenEvents
from tests.bot.core.builders import CLIENT, MEETING, at, joined, started, video
from tests.conftest import storage_keys

TEXT = st.text(max_size=12)  # any text: JSON and sealing must give each back as it was
PEOPLE = st.builds(ev.ParticipantRef, user_id=TEXT, stable_id=TEXT, account_id=TEXT, name=TEXT, email=TEXT, name_digest=TEXT)
ZONES = st.sampled_from([timezone.utc, timezone.utc, timezone.utc, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5, minutes=45)), None])
TIMES = st.builds(
    lambda at, zone, fold: at.replace(tzinfo=zone, fold=fold).astimezone(zone) if zone else at.replace(fold=fold),
    st.datetimes(datetime(1900, 1, 2), datetime(2200, 1, 1)), ZONES, st.integers(0, 1),
)
EVENTS = st.one_of(
    st.builds(ev.ParticipantJoined, st.just(MEETING), TIMES, participant=PEOPLE),
    st.builds(ev.VideoStateChanged, st.just(MEETING), TIMES, participant=PEOPLE, on=st.booleans()),
    st.builds(ev.FramingChanged, st.just(MEETING), TIMES, change=TEXT, detail=TEXT, source=TEXT),
    st.builds(ev.StreamStopped, st.just(MEETING), TIMES, stream_id=TEXT, reason=st.integers(-(2**70), 2**70)),
    st.builds(ev.MeetingEnded, st.just(MEETING), TIMES),
)
KEYS = {False: storage_keys(), True: storage_keys(show_names=True)}


@settings(max_examples=300, deadline=None)
@given(event=EVENTS, keep_names=st.booleans(), payload=st.sampled_from([{}, {"payload": {"object": {"topic": "Sam's session"}}}]))
def test_an_event_as_remembered_is_the_event_its_row_reads_back_as(event, keep_names, payload):
    at_rest: AtRest = KEYS[keep_names]
    event = dataclasses.replace(event, raw=payload)  # the platform's payload: never kept, nor remembered
    data, remembered = at_rest.kept(event)
    read = at_rest.event_of(MEETING, 1, data)
    # Every value here is one JSON gives back as it was; a time not in UTC (or a repeated hour's second) is read back.
    assert (remembered is None) == (event.at.tzinfo is not timezone.utc or event.at.fold == 1)
    if remembered is None:
        return
    assert remembered == read and repr(remembered) == repr(read)  # repr: the time's zone, the name kept or not, too
    assert remembered.at.tzinfo is read.at.tzinfo and remembered.raw == read.raw == {}


def test_an_event_whose_values_json_may_change_is_not_remembered():
    tupled = ev.ParticipantJoined(MEETING, at(0), participant=ev.ParticipantRef(user_id=("7",)))  # type: ignore[arg-type]
    floated = ev.StreamStopped(MEETING, at(0), reason=1.5)  # type: ignore[arg-type]
    scheduled = ev.MeetingScheduled(MEETING, at(0))  # a kind the events' rows do not hold
    emailed = ev.ParticipantJoined(MEETING, at(0), participant=ev.ParticipantRef(user_id="7", email="sam@example.net"))
    assert storage_keys().prepared(emailed).participant.email == ""  # the store never keeps it: remembered so
    events = (tupled, floated, scheduled, emailed)
    assert [ev.as_rebuilt(event) for event in events] == [None, None, None, None]
    assert [storage_keys().kept(event)[1] is None for event in events] == [True, True, True, False]


def test_the_memo_keeps_the_newest_rows_only_and_each_one_once():
    written = WrittenEvents(size=3)
    for row_id in range(1, 6):
        written.remember(row_id, f"data {row_id}", started(row_id))
    assert len(written) == 3
    assert [written.take(row_id, f"data {row_id}", MEETING) for row_id in (1, 2)] == [None, None]
    assert written.take(3, "data 3", MEETING) == started(3)
    assert written.take(3, "data 3", MEETING) is None and len(written) == 2  # taken: read the usual way next time


def test_a_row_is_served_only_as_written_and_for_the_meeting_read():
    written = WrittenEvents()
    written.remember(1, "as written", started(0))
    assert written.take(1, "re-sealed since", MEETING) is None
    written.remember(2, "as written", started(0))
    other = ev.MeetingRef(MEETING.platform, MEETING.occurrence_id, "999", "OTHER-HOST")
    assert written.take(2, "as written", other) == ev.MeetingStarted(other, at(0))


def counted_decodes(monkeypatch) -> list[int]:
    count = [0]
    event_of = AtRest.event_of

    def counted(self, meeting, row_id, data):
        count[0] += 1
        return event_of(self, meeting, row_id, data)

    monkeypatch.setattr(AtRest, "event_of", counted)
    return count


async def test_an_instance_reads_its_own_writes_back_undecoded_and_anothers_decoded(store, monkeypatch):
    events = [started(), joined(5, CLIENT), video(6, CLIENT, False)]
    await store.record_events("t1", MEETING, [(f"k{n}", e) for n, e in enumerate(events)], at(10))
    decodes = counted_decodes(monkeypatch)
    assert [row.event for row in await store.events_after(MEETING, 0)] == [KEYS[False].prepared(e) for e in events]
    assert decodes[0] == 0
    another = Store(store.engine, store.at_rest)
    assert [row.event for row in await another.events_after(MEETING, 0)] == [KEYS[False].prepared(e) for e in events]
    assert decodes[0] == 3


async def test_a_row_changed_since_it_was_written_reads_as_it_is_now(store, monkeypatch):
    """Re-sealed by a key rotation, or deleted (forget, retention) and its id written again: the memo must not answer."""
    await store.record_events("t1", MEETING, [("k0", started()), ("k1", joined(5, CLIENT))], at(10))
    async with store.engine.begin() as conn:
        await conn.execute(update(schema.events).where(schema.events.c.key == "k1").values(data=store.at_rest.event_data(video(7, CLIENT, True))))
    decodes = counted_decodes(monkeypatch)
    assert [row.event for row in await store.events_after(MEETING, 0)] == [started(), KEYS[False].prepared(video(7, CLIENT, True))]
    assert decodes[0] == 1  # the changed row's; the other came from the memo
